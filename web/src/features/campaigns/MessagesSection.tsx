import { useEffect, useRef, useState } from "react";
import { useMessages } from "../../api/queries";
import type { Message, MessageStatus, PageRequest } from "../../api/models";
import { MESSAGE_STATUSES } from "../../api/models";
import { PaginationBar } from "../../components/PaginationBar";
import { DeliveryBadge } from "../../components/DeliveryBadge";
import { StatusBadge } from "../../components/StatusBadge";
import { EmptyState, ErrorState, SkeletonRows } from "../../components/states";
import { STATUS_LABELS, formatDateTime, pluralize } from "../../lib/format";
import { ErrorCodeLabel } from "./ErrorCodeLabel";
import { MessageDrawer } from "./MessageDrawer";

const PAGE_SIZE = 20;
/** While the event stream drives updates, the list refetches at most this often. */
export const STREAM_REFRESH_MS = 2000;

interface Props {
  campaignId: number;
  /** Messages are changing: poll (when `refreshKey` is not given). */
  live: boolean;
  /**
   * Set while the event stream is open: it changes whenever the campaign's counts do,
   * and the list refetches then (throttled) instead of on a timer.
   */
  refreshKey?: string;
}

export function MessagesSection({ campaignId, live, refreshKey }: Props) {
  const [status, setStatus] = useState<MessageStatus | undefined>();
  const [paging, setPaging] = useState<PageRequest>({});
  const [openId, setOpenId] = useState<number | null>(null);
  const streaming = refreshKey !== undefined;
  const { data, error, isPending, isError, isPlaceholderData, refetch } = useMessages(
    campaignId,
    { ...paging, status, page_size: PAGE_SIZE },
    live && !streaming,
  );

  // Polling stops when sending ends; fetch once more so the final statuses show.
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) void refetch();
    wasLive.current = live;
  }, [live, refetch]);

  // The stream says the counts moved: refetch, at most once per STREAM_REFRESH_MS.
  const seenKey = useRef(refreshKey);
  const lastRefresh = useRef(0);
  useEffect(() => {
    if (refreshKey === undefined || refreshKey === seenKey.current) return;
    seenKey.current = refreshKey;
    const wait = Math.max(0, lastRefresh.current + STREAM_REFRESH_MS - Date.now());
    const timer = setTimeout(() => {
      lastRefresh.current = Date.now();
      void refetch({ cancelRefetch: false });
    }, wait);
    return () => clearTimeout(timer);
  }, [refreshKey, refetch]);

  return (
    <section className="card" aria-labelledby="messages-title">
      <div className="section-header">
        <h2 id="messages-title">
          Messages
          {data && <span className="section-header__count"> · {pluralize(data.pagination.total_count, "message")}</span>}
        </h2>
        <div className="filters__item filters__item--inline">
          <label htmlFor="message-status">Status</label>
          <select
            id="message-status"
            className="input"
            value={status ?? ""}
            onChange={(e) => {
              setStatus((e.target.value || undefined) as MessageStatus | undefined);
              setPaging({});
            }}
          >
            <option value="">All</option>
            {MESSAGE_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
      </div>

      {isPending ? (
        <SkeletonRows rows={3} label="Loading messages" />
      ) : isError ? (
        <ErrorState error={error} onRetry={() => void refetch()} />
      ) : data.data.length === 0 ? (
        <EmptyState title={status ? `No ${STATUS_LABELS[status].toLowerCase()} messages` : "No messages yet"}>
          {!status && <p>Messages appear here once the campaign is sent.</p>}
        </EmptyState>
      ) : (
        <div className={isPlaceholderData ? "is-stale" : undefined}>
          <MessagesTable messages={data.data} onOpen={setOpenId} />
          <PaginationBar
            label="Message pages"
            pagination={data.pagination}
            onNavigate={setPaging}
            busy={isPlaceholderData}
          />
        </div>
      )}
      {openId !== null && (
        <MessageDrawer campaignId={campaignId} messageId={openId} onClose={() => setOpenId(null)} />
      )}
    </section>
  );
}

function MessagesTable({ messages, onOpen }: { messages: Message[]; onOpen: (id: number) => void }) {
  return (
    <table className="table table--stack">
      <caption className="visually-hidden">Messages</caption>
      <thead>
        <tr>
          <th scope="col">Customer</th>
          <th scope="col">Status</th>
          <th scope="col">Delivery</th>
          <th scope="col">Content</th>
          <th scope="col" className="num">
            Retries
          </th>
          <th scope="col">Error code</th>
          <th scope="col">Last error</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {messages.map((m) => (
          // The whole row opens the message; the button in it is the keyboard's way in.
          <tr key={m.id} className="table__row--clickable" onClick={() => onOpen(m.id)}>
            <td data-label="Customer">
              <button
                type="button"
                className="link-button"
                aria-label={`Message #${m.id} to customer #${m.customer_id}: details`}
                onClick={(e) => {
                  e.stopPropagation();
                  onOpen(m.id);
                }}
              >
                #{m.customer_id}
              </button>
            </td>
            <td data-label="Status">
              <StatusBadge status={m.status} />
            </td>
            <td data-label="Delivery" className={m.delivery_status ? undefined : "hide-on-stack"}>
              <DeliveryBadge status={m.delivery_status} />
            </td>
            <td data-label="Content" className="table__content">
              {m.rendered_content ?? <span className="muted">Not rendered yet</span>}
            </td>
            <td data-label="Retries" className={m.retry_count ? "num" : "num hide-on-stack"}>
              {m.retry_count}
            </td>
            <td data-label="Error code" className={m.error_code ? undefined : "hide-on-stack"}>
              {m.error_code ? <ErrorCodeLabel code={m.error_code} /> : "—"}
            </td>
            <td data-label="Last error" className={m.last_error ? "table__error" : "hide-on-stack"}>
              {m.last_error ?? "—"}
            </td>
            <td data-label="Updated">
              <time dateTime={m.updated_at}>{formatDateTime(m.updated_at)}</time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

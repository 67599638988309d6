import { useEffect, useRef, useState } from "react";
import { useMessages } from "../../api/queries";
import type { Message, MessageStatus, PageRequest } from "../../api/models";
import { MESSAGE_STATUSES } from "../../api/models";
import { PaginationBar } from "../../components/PaginationBar";
import { StatusBadge } from "../../components/StatusBadge";
import { EmptyState, ErrorState, SkeletonRows } from "../../components/states";
import { STATUS_LABELS, formatDateTime, pluralize } from "../../lib/format";

const PAGE_SIZE = 20;

export function MessagesSection({ campaignId, live }: { campaignId: number; live: boolean }) {
  const [status, setStatus] = useState<MessageStatus | undefined>();
  const [paging, setPaging] = useState<PageRequest>({});
  const { data, error, isPending, isError, isPlaceholderData, refetch } = useMessages(
    campaignId,
    { ...paging, status, page_size: PAGE_SIZE },
    live,
  );

  // Polling stops when sending ends; fetch once more so the final statuses show.
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) void refetch();
    wasLive.current = live;
  }, [live, refetch]);

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
          <MessagesTable messages={data.data} />
          <PaginationBar
            label="Message pages"
            pagination={data.pagination}
            onNavigate={setPaging}
            busy={isPlaceholderData}
          />
        </div>
      )}
    </section>
  );
}

function MessagesTable({ messages }: { messages: Message[] }) {
  return (
    <table className="table table--stack">
      <caption className="visually-hidden">Messages</caption>
      <thead>
        <tr>
          <th scope="col">Customer</th>
          <th scope="col">Status</th>
          <th scope="col">Content</th>
          <th scope="col" className="num">
            Retries
          </th>
          <th scope="col">Last error</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {messages.map((m) => (
          <tr key={m.id}>
            <td data-label="Customer">#{m.customer_id}</td>
            <td data-label="Status">
              <StatusBadge status={m.status} />
            </td>
            <td data-label="Content" className="table__content">
              {m.rendered_content ?? <span className="muted">Not rendered yet</span>}
            </td>
            <td data-label="Retries" className={m.retry_count ? "num" : "num hide-on-stack"}>
              {m.retry_count}
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

import { ApiError } from "../../api/client";
import { useMessage, type MessageDetail } from "../../api/queries";
import { Modal } from "../../components/Modal";
import { DeliveryBadge } from "../../components/DeliveryBadge";
import { StatusBadge } from "../../components/StatusBadge";
import { EmptyState, ErrorState, SkeletonRows } from "../../components/states";
import { formatDateTime, formatDateTimeSeconds } from "../../lib/format";
import { ErrorCodeLabel } from "./ErrorCodeLabel";

type Outcome = MessageDetail["attempts"][number]["outcome"];

const OUTCOME_LABELS: Record<Outcome, string> = {
  sent: "Sent",
  retry: "Failed, retried",
  failed: "Failed",
};

/** One message and every attempt at it, oldest first, in a side drawer. */
export function MessageDrawer({
  campaignId,
  messageId,
  onClose,
}: {
  campaignId: number;
  messageId: number;
  onClose: () => void;
}) {
  const { data, error, isPending, isError, refetch } = useMessage(campaignId, messageId);

  return (
    <Modal title={`Message #${messageId}`} onClose={onClose} variant="drawer">
      {isPending ? (
        <SkeletonRows rows={4} label="Loading message" />
      ) : isError ? (
        error instanceof ApiError && error.status === 404 ? (
          <EmptyState title="Message not found" />
        ) : (
          <ErrorState error={error} onRetry={() => void refetch()} />
        )
      ) : (
        <MessageBody message={data} />
      )}
    </Modal>
  );
}

function MessageBody({ message }: { message: MessageDetail }) {
  return (
    <>
      <dl className="fields">
        <div>
          <dt>Customer</dt>
          <dd>#{message.customer_id}</dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={message.status} />
          </dd>
        </div>
        <div>
          <dt>Retries</dt>
          <dd>{message.retry_count}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>{formatDateTime(message.updated_at)}</dd>
        </div>
        {message.error_code && (
          <div>
            <dt>Error code</dt>
            <dd>
              <ErrorCodeLabel code={message.error_code} />
            </dd>
          </div>
        )}
        {message.delivery_status && (
          <div>
            <dt>Delivery</dt>
            <dd>
              <DeliveryBadge status={message.delivery_status} />
            </dd>
          </div>
        )}
        {message.delivered_at && (
          <div>
            <dt>Delivered</dt>
            <dd>
              <time dateTime={message.delivered_at}>{formatDateTimeSeconds(message.delivered_at)}</time>
            </dd>
          </div>
        )}
        {message.provider && (
          <div>
            <dt>Provider</dt>
            <dd>{message.provider}</dd>
          </div>
        )}
        {message.provider_message_id && (
          <div>
            <dt>Provider message ID</dt>
            <dd>
              <code>{message.provider_message_id}</code>
            </dd>
          </div>
        )}
        <div className="fields__wide">
          <dt>Content</dt>
          <dd>
            {message.rendered_content ? (
              <pre className="template-text">{message.rendered_content}</pre>
            ) : (
              <span className="muted">Not rendered yet</span>
            )}
          </dd>
        </div>
        {message.last_error && (
          <div className="fields__wide">
            <dt>Last error</dt>
            <dd className="table__error">{message.last_error}</dd>
          </div>
        )}
      </dl>

      <h3 className="drawer__heading">Attempts</h3>
      {message.attempts.length === 0 ? (
        <p className="muted">Not attempted yet.</p>
      ) : (
        <table className="table table--stack">
          <caption className="visually-hidden">Attempts</caption>
          <thead>
            <tr>
              <th scope="col" className="num">
                #
              </th>
              <th scope="col">Time</th>
              <th scope="col">Outcome</th>
              <th scope="col">Error code</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {message.attempts.map((a, i) => (
              // An attempt number starts again at 1 with each retry-failed series.
              <tr key={`${i}-${a.attempt}`}>
                <td data-label="Attempt" className="num">
                  {a.attempt}
                </td>
                <td data-label="Time">
                  <time dateTime={a.at}>{formatDateTimeSeconds(a.at)}</time>
                </td>
                <td data-label="Outcome">
                  <span className={`outcome outcome--${a.outcome}`}>{OUTCOME_LABELS[a.outcome]}</span>
                </td>
                <td data-label="Error code">{a.error_code ? <ErrorCodeLabel code={a.error_code} /> : "—"}</td>
                <td data-label="Error" className={a.error ? "table__error" : undefined}>
                  {a.error ?? "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

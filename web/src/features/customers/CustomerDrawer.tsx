import { ApiError } from "../../api/client";
import type { CustomerDetail } from "../../api/models";
import { useCustomer } from "../../api/queries";
import { Modal } from "../../components/Modal";
import { EmptyState, ErrorState, SkeletonRows } from "../../components/states";
import { formatDateTime, formatDateTimeSeconds } from "../../lib/format";
import { ConsentAction, ConsentBadge } from "./consent";
import { CONSENT_SOURCE_LABELS } from "./consentLabels";
import { customerName } from "./customerName";

/** One customer, their consent state and every opt-out and opt-in, newest first. */
export function CustomerDrawer({ customerId, onClose }: { customerId: number; onClose: () => void }) {
  const { data, error, isPending, isError, refetch } = useCustomer(customerId);
  return (
    <Modal title={data ? customerName(data) : `Customer #${customerId}`} onClose={onClose} variant="drawer">
      {isPending ? (
        <SkeletonRows rows={4} label="Loading customer" />
      ) : isError ? (
        error instanceof ApiError && error.status === 404 ? (
          <EmptyState title="Customer not found" />
        ) : (
          <ErrorState error={error} onRetry={() => void refetch()} />
        )
      ) : (
        <CustomerBody customer={data} />
      )}
    </Modal>
  );
}

function CustomerBody({ customer }: { customer: CustomerDetail }) {
  return (
    <>
      <dl className="fields">
        <div>
          <dt>Phone</dt>
          <dd className="customer-phone">{customer.phone}</dd>
        </div>
        <div>
          <dt>Time zone</dt>
          <dd>{customer.timezone ?? <span className="muted">From their number</span>}</dd>
        </div>
        <div>
          <dt>Consent</dt>
          <dd>
            <ConsentBadge customer={customer} />
          </dd>
        </div>
        <div>
          <dt>Added</dt>
          <dd>{formatDateTime(customer.created_at)}</dd>
        </div>
        <div className="fields__wide">
          <dt className="visually-hidden">Change consent</dt>
          <dd>
            <ConsentAction customer={customer} />
          </dd>
        </div>
      </dl>

      <h3 className="drawer__heading">Consent history</h3>
      {customer.consent_history.length === 0 ? (
        <p className="muted">No opt-outs or opt-ins recorded.</p>
      ) : (
        <table className="table table--stack">
          <caption className="visually-hidden">Consent history</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Change</th>
              <th scope="col">Source</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {customer.consent_history.map((event, i) => (
              <tr key={`${i}-${event.at}`}>
                <td data-label="Time">
                  <time dateTime={event.at}>{formatDateTimeSeconds(event.at)}</time>
                </td>
                <td data-label="Change">{event.opted_out ? "Opted out" : "Opted in"}</td>
                <td data-label="Source">{CONSENT_SOURCE_LABELS[event.source] ?? event.source}</td>
                <td data-label="Detail" className={event.detail ? undefined : "hide-on-stack"}>
                  {event.detail ?? "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

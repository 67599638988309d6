import type { DeliveryStatus } from "../api/models";
import { DELIVERY_STATUS_LABELS } from "../lib/format";

/** What the receipts said about a message; "—" while none has arrived. */
export function DeliveryBadge({ status }: { status: DeliveryStatus | null }) {
  if (status === null) {
    return (
      <span className="muted" data-delivery-status="none" title="No receipt yet">
        —
      </span>
    );
  }
  return (
    <span className={`badge badge--${status}`} data-delivery-status={status}>
      {DELIVERY_STATUS_LABELS[status] ?? status}
    </span>
  );
}

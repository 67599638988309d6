import type { CampaignStatus, MessageStatus } from "../api/models";
import { STATUS_LABELS } from "../lib/format";

export function StatusBadge({ status }: { status: CampaignStatus | MessageStatus }) {
  return (
    <span className={`badge badge--${status}`} data-status={status}>
      {STATUS_LABELS[status] ?? status}
    </span>
  );
}

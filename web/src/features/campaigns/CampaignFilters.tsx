import type { CampaignStatus, Channel } from "../../api/models";
import { CAMPAIGN_STATUSES, CHANNELS } from "../../api/models";
import { CHANNEL_LABELS, STATUS_LABELS } from "../../lib/format";

export interface CampaignFilterValues {
  channel?: Channel;
  status?: CampaignStatus;
}

interface Props {
  value: CampaignFilterValues;
  onChange: (value: CampaignFilterValues) => void;
}

export function CampaignFilters({ value, onChange }: Props) {
  const active = Boolean(value.channel || value.status);
  return (
    <div className="filters" role="group" aria-label="Filter campaigns">
      <div className="filters__item">
        <label htmlFor="filter-channel">Channel</label>
        <select
          id="filter-channel"
          className="input"
          value={value.channel ?? ""}
          onChange={(e) => onChange({ ...value, channel: (e.target.value || undefined) as Channel | undefined })}
        >
          <option value="">All channels</option>
          {CHANNELS.map((c) => (
            <option key={c} value={c}>
              {CHANNEL_LABELS[c]}
            </option>
          ))}
        </select>
      </div>
      <div className="filters__item">
        <label htmlFor="filter-status">Status</label>
        <select
          id="filter-status"
          className="input"
          value={value.status ?? ""}
          onChange={(e) =>
            onChange({ ...value, status: (e.target.value || undefined) as CampaignStatus | undefined })
          }
        >
          <option value="">All statuses</option>
          {CAMPAIGN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABELS[s]}
            </option>
          ))}
        </select>
      </div>
      {active && (
        <button type="button" className="button button--ghost filters__clear" onClick={() => onChange({})}>
          Clear filters
        </button>
      )}
    </div>
  );
}

import { Link } from "react-router";
import type { CampaignSummary } from "../../api/models";
import { ChannelTag } from "../../components/ChannelTag";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDateTime } from "../../lib/format";

export function CampaignTable({ campaigns, busy }: { campaigns: CampaignSummary[]; busy: boolean }) {
  return (
    <table className="table table--stack" aria-busy={busy || undefined}>
      <caption className="visually-hidden">Campaigns</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Channel</th>
          <th scope="col">Status</th>
          <th scope="col">Scheduled</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {campaigns.map((c) => (
          <tr key={c.id}>
            <td data-label="Name" className="table__primary">
              <Link to={`/campaigns/${c.id}`}>{c.name}</Link>
            </td>
            <td data-label="Channel">
              <ChannelTag channel={c.channel} />
            </td>
            <td data-label="Status">
              <StatusBadge status={c.status} />
            </td>
            <td data-label="Scheduled">{c.scheduled_at ? formatDateTime(c.scheduled_at) : "—"}</td>
            <td data-label="Created">
              <time dateTime={c.created_at}>{formatDateTime(c.created_at)}</time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

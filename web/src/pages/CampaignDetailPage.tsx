import { useState } from "react";
import { Link, useParams } from "react-router";
import { ApiError } from "../api/client";
import { useCampaign } from "../api/queries";
import type { CampaignDetail } from "../api/models";
import { ChannelTag } from "../components/ChannelTag";
import { StatusBadge } from "../components/StatusBadge";
import { EmptyState, ErrorState, SkeletonRows } from "../components/states";
import { CampaignStatsPanel } from "../features/campaigns/CampaignStatsPanel";
import { MessagesSection } from "../features/campaigns/MessagesSection";
import { SendDialog } from "../features/send/SendDialog";
import { formatDateTime, pluralize } from "../lib/format";

const SENDABLE: ReadonlySet<CampaignDetail["status"]> = new Set(["draft", "scheduled"]);

export function CampaignDetailPage() {
  const { id: rawId } = useParams();
  const id = Number(rawId);
  if (!Number.isInteger(id) || id < 1) return <CampaignNotFound />;
  return <CampaignDetailView key={id} id={id} />;
}

function CampaignNotFound() {
  return (
    <EmptyState title="Campaign not found">
      <Link to="/">Back to campaigns</Link>
    </EmptyState>
  );
}

function CampaignDetailView({ id }: { id: number }) {
  const { data: campaign, error, isPending, isError, refetch } = useCampaign(id);
  const [sendOpen, setSendOpen] = useState(false);

  if (isPending) return <SkeletonRows rows={6} label="Loading campaign" />;
  if (isError) {
    if (error instanceof ApiError && error.status === 404) return <CampaignNotFound />;
    return <ErrorState error={error} onRetry={() => void refetch()} />;
  }

  const live = campaign.status === "sending";
  return (
    <article aria-labelledby="campaign-title" className="detail">
      <Link to="/" className="back-link">
        ← All campaigns
      </Link>
      <div className="page-header">
        <div>
          <h1 id="campaign-title">{campaign.name}</h1>
          <p className="page-header__meta">
            <StatusBadge status={campaign.status} /> <ChannelTag channel={campaign.channel} />
          </p>
        </div>
        {SENDABLE.has(campaign.status) && (
          <button type="button" className="button button--primary" onClick={() => setSendOpen(true)}>
            Send…
          </button>
        )}
      </div>

      <div className="detail__grid">
        <CampaignStatsPanel stats={campaign.stats} live={live} />
        <CampaignFields campaign={campaign} />
      </div>

      <MessagesSection campaignId={campaign.id} live={live} />

      {sendOpen && <SendDialog campaign={campaign} onClose={() => setSendOpen(false)} />}
    </article>
  );
}

function CampaignFields({ campaign }: { campaign: CampaignDetail }) {
  return (
    <section className="card" aria-labelledby="fields-title">
      <h2 id="fields-title">Details</h2>
      <dl className="fields">
        <div>
          <dt>Scheduled</dt>
          <dd>{campaign.scheduled_at ? formatDateTime(campaign.scheduled_at) : "Not scheduled"}</dd>
        </div>
        <div>
          <dt>Audience</dt>
          <dd>{campaign.audience_size > 0 ? pluralize(campaign.audience_size, "customer") : "None saved"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDateTime(campaign.created_at)}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>{formatDateTime(campaign.updated_at)}</dd>
        </div>
        <div className="fields__wide">
          <dt>Template</dt>
          <dd>
            <pre className="template-text">{campaign.base_template}</pre>
          </dd>
        </div>
      </dl>
    </section>
  );
}

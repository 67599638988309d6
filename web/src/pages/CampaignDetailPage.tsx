import { Link, useParams } from "react-router";
import { ApiError } from "../api/client";
import type { CampaignDetail } from "../api/models";
import { ChannelTag } from "../components/ChannelTag";
import { StatusBadge } from "../components/StatusBadge";
import { EmptyState, ErrorState, SkeletonRows } from "../components/states";
import { CampaignStatsPanel, type LiveMode } from "../features/campaigns/CampaignStatsPanel";
import { MessagesSection } from "../features/campaigns/MessagesSection";
import { useLiveCampaign } from "../features/campaigns/useLiveCampaign";
import { CampaignActions } from "../features/control/CampaignActions";
import { PauseBanner } from "../features/control/PauseBanner";
import { describeSegment } from "../features/send/segment";
import { isPast } from "../lib/datetime";
import { describeSendWindow, formatDateTime, formatNumber, formatShortDateTime, pluralize } from "../lib/format";

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
  const { query, live } = useLiveCampaign(id);
  const { data: campaign, error, isPending, isError, refetch } = query;

  if (isPending) return <SkeletonRows rows={6} label="Loading campaign" />;
  if (isError) {
    if (error instanceof ApiError && error.status === 404) return <CampaignNotFound />;
    return <ErrorState error={error} onRetry={() => void refetch()} />;
  }

  const sending = campaign.status === "sending";
  const mode: LiveMode = live === "live" ? "live" : sending ? "polling" : "off";
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
        <CampaignActions campaign={campaign} />
      </div>

      {campaign.status === "paused" && <PauseBanner reason={campaign.pause_reason} />}
      {campaign.waiting_for_window > 0 && <WaitingForWindow campaign={campaign} />}

      <div className="detail__grid">
        <CampaignStatsPanel stats={campaign.stats} status={campaign.status} live={mode} />
        <CampaignFields campaign={campaign} />
      </div>

      <MessagesSection
        campaignId={campaign.id}
        live={sending || campaign.stats.sending > 0}
        refreshKey={live === "live" ? statsKey(campaign) : undefined}
      />
    </article>
  );
}

/**
 * Changes whenever a message changes state or gets a receipt: the messages list refetches
 * on it (so its delivery column follows the receipts too).
 */
function statsKey(campaign: CampaignDetail): string {
  const s = campaign.stats;
  return [campaign.status, s.pending, s.sending, s.sent, s.failed, s.cancelled, s.delivered, s.undelivered].join(":");
}

/** Messages held back by their recipients' quiet hours: not failures, just not yet. */
function WaitingForWindow({ campaign }: { campaign: CampaignDetail }) {
  const n = campaign.waiting_for_window;
  const opens = campaign.next_window_opens_at;
  return (
    <p className="window-notice" role="status" data-testid="waiting-for-window">
      {n === 1
        ? "1 message waits for its recipient's send window"
        : `${formatNumber(n)} messages wait for their recipient's send window`}
      {opens ? (
        <>
          ; the next opens at <time dateTime={opens}>{formatShortDateTime(opens)}</time>.
        </>
      ) : (
        "."
      )}
    </p>
  );
}

/** "expires 2 Dec 21:00", or "expired 2 Dec 21:00" once that is past. */
function Expiry({ iso }: { iso: string | null }) {
  if (!iso) return <>Never</>;
  const past = isPast(iso);
  return (
    <>
      {past ? <span className="badge badge--expired">Expired</span> : "Expires"}{" "}
      <time dateTime={iso}>{formatShortDateTime(iso)}</time>
    </>
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
          <dd>
            {campaign.segment
              ? `Segment: ${describeSegment(campaign.segment)}`
              : campaign.audience_size > 0
                ? pluralize(campaign.audience_size, "customer")
                : "None saved"}
          </dd>
        </div>
        <div>
          <dt>Send window</dt>
          <dd data-testid="send-window">{describeSendWindow(campaign.send_window)}</dd>
        </div>
        <div>
          <dt>Expiry</dt>
          <dd data-testid="expiry">
            <Expiry iso={campaign.expires_at} />
          </dd>
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
        {campaign.whatsapp_template && (
          <div className="fields__wide">
            <dt>WhatsApp template</dt>
            <dd data-testid="whatsapp-template">
              <code>{campaign.whatsapp_template.name}</code> ({campaign.whatsapp_template.language})
              {campaign.whatsapp_template.content_sid && (
                <>
                  , Twilio <code>{campaign.whatsapp_template.content_sid}</code>
                </>
              )}
              {(campaign.whatsapp_template.body_params ?? []).length > 0 && (
                <ol className="template-params">
                  {(campaign.whatsapp_template.body_params ?? []).map((p, i) => (
                    <li key={i}>
                      <code>{`{{${i + 1}}}`}</code> = <code>{p}</code>
                    </li>
                  ))}
                </ol>
              )}
            </dd>
          </div>
        )}
      </dl>
    </section>
  );
}

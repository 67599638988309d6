import type { CampaignStats, CampaignStatus } from "../../api/models";
import { formatNumber } from "../../lib/format";
import { DeliveryFunnel } from "./DeliveryFunnel";

const SEGMENTS = [
  { key: "sent", label: "Sent" },
  { key: "failed", label: "Failed" },
  { key: "cancelled", label: "Cancelled" },
  { key: "sending", label: "Sending" },
  { key: "pending", label: "Pending" },
] as const;

/** `live`: the event stream is open and these numbers follow it. */
export type LiveMode = "live" | "polling" | "off";

export function CampaignStatsPanel({
  stats,
  status,
  live,
}: {
  stats: CampaignStats;
  status: CampaignStatus;
  live: LiveMode;
}) {
  const total = stats.total;
  // Cancelled messages are settled too: they will never be sent.
  const done = stats.sent + stats.failed + stats.cancelled;
  const percent = total > 0 ? Math.round((done / total) * 100) : 0;
  const summary = SEGMENTS.map((s) => `${formatNumber(stats[s.key])} ${s.label.toLowerCase()}`).join(", ");
  const paused = status === "paused";

  return (
    <section className="card stats" aria-labelledby="stats-title">
      <div className="stats__header">
        <h2 id="stats-title">Delivery</h2>
        {live === "live" && (
          <span className="live-indicator" title="Updates arrive as they happen">
            <span className="live-indicator__dot" aria-hidden="true" /> Live
          </span>
        )}
        {live === "polling" && (
          <span className="live-indicator live-indicator--polling" title="The live connection failed; refreshing every few seconds">
            Refreshing
          </span>
        )}
      </div>
      <dl className="stats__grid">
        <div className="stat">
          <dt>Total</dt>
          <dd>{formatNumber(total)}</dd>
        </div>
        {SEGMENTS.map((s) => (
          <div key={s.key} className={`stat stat--${s.key}`}>
            <dt>{s.label}</dt>
            <dd>{formatNumber(stats[s.key])}</dd>
          </div>
        ))}
      </dl>
      <div
        className={paused ? "progress progress--paused" : "progress"}
        role="progressbar"
        aria-label="Messages processed"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={
          total > 0
            ? `${percent}% processed${paused ? " (paused)" : ""}: ${summary} of ${formatNumber(total)}`
            : "No messages yet"
        }
      >
        {total > 0 &&
          SEGMENTS.map((s) =>
            stats[s.key] > 0 ? (
              <span
                key={s.key}
                className={`progress__segment progress__segment--${s.key}`}
                style={{ width: `${(stats[s.key] / total) * 100}%` }}
              />
            ) : null,
          )}
      </div>
      <p className="stats__caption">
        {total > 0
          ? `${percent}% processed${paused ? " · paused" : ""}`
          : "No messages have been queued yet."}
      </p>
      <DeliveryFunnel stats={stats} />
    </section>
  );
}

import type { CampaignStats } from "../../api/models";
import { formatNumber } from "../../lib/format";

const SEGMENTS = [
  { key: "sent", label: "Sent" },
  { key: "failed", label: "Failed" },
  { key: "sending", label: "Sending" },
  { key: "pending", label: "Pending" },
] as const;

export function CampaignStatsPanel({ stats, live }: { stats: CampaignStats; live: boolean }) {
  const total = stats.total;
  const done = stats.sent + stats.failed;
  const percent = total > 0 ? Math.round((done / total) * 100) : 0;
  const summary = SEGMENTS.map((s) => `${formatNumber(stats[s.key])} ${s.label.toLowerCase()}`).join(", ");

  return (
    <section className="card stats" aria-labelledby="stats-title">
      <div className="stats__header">
        <h2 id="stats-title">Delivery</h2>
        {live && (
          <span className="live-indicator">
            <span className="live-indicator__dot" aria-hidden="true" /> Live
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
        className="progress"
        role="progressbar"
        aria-label="Messages processed"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={total > 0 ? `${percent}% processed: ${summary} of ${formatNumber(total)}` : "No messages yet"}
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
        {total > 0 ? `${percent}% processed` : "No messages have been queued yet."}
      </p>
    </section>
  );
}

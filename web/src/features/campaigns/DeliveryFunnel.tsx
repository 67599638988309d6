import type { CampaignStats } from "../../api/models";
import { formatNumber } from "../../lib/format";
import { deliveryFunnel } from "./deliveryFunnel";

/** Sent → delivered / undelivered / awaiting receipt, as counts and shares of sent. */
export function DeliveryFunnel({ stats }: { stats: CampaignStats }) {
  const { sent, steps } = deliveryFunnel(stats);
  // Receipts running ahead of `sent` must not overflow the bar: it shows the parts' shares.
  const barTotal = steps.reduce((n, s) => n + s.count, 0);
  const summary = steps
    .map((s) => `${formatNumber(s.count)} ${s.label.toLowerCase()}${s.percent === null ? "" : ` (${s.percent}%)`}`)
    .join(", ");

  return (
    <div className="funnel" role="group" aria-labelledby="funnel-title">
      <h3 id="funnel-title" className="funnel__title">
        Receipts
      </h3>
      <dl className="funnel__grid">
        <div className="stat stat--funnel-sent">
          <dt>Sent</dt>
          <dd>{formatNumber(sent)}</dd>
        </div>
        {steps.map((s) => (
          <div key={s.key} className={`stat stat--${s.key}`} data-step={s.key}>
            <dt>{s.label}</dt>
            <dd>
              <span className="stat__count">{formatNumber(s.count)}</span>
              <span className="stat__percent">{s.percent === null ? "—" : `${s.percent}% of sent`}</span>
            </dd>
          </div>
        ))}
      </dl>
      <div
        className="progress progress--funnel"
        role="img"
        aria-label={sent > 0 ? `Of ${formatNumber(sent)} sent: ${summary}` : "No messages sent yet"}
      >
        {sent > 0 &&
          steps.map((s) =>
            s.count > 0 ? (
              <span
                key={s.key}
                className={`progress__segment progress__segment--${s.key}`}
                style={{ width: `${(s.count / barTotal) * 100}%` }}
              />
            ) : null,
          )}
      </div>
      <p className="funnel__caption">
        {sent > 0 ? "Shares of the messages sent, from the providers' delivery receipts." : "Receipts arrive once messages are sent."}
      </p>
    </div>
  );
}

/** A paused campaign says why, above everything else: an automatic pause needs a decision. */
export function PauseBanner({ reason }: { reason: string | null }) {
  const automatic = reason?.startsWith("automatic") ?? false;
  return (
    <section className="pause-banner" role="status" aria-labelledby="pause-banner-title">
      <h2 id="pause-banner-title" className="pause-banner__title">
        {automatic ? "Paused automatically" : "Paused"}
      </h2>
      <p className="pause-banner__reason">{reason ?? "No reason was given."}</p>
      <p className="pause-banner__hint">No further messages go out until it is resumed or cancelled.</p>
    </section>
  );
}

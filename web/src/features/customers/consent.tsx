import { useState } from "react";
import { errorMessage } from "../../api/client";
import type { Customer } from "../../api/models";
import { useSetConsent } from "../../api/queries";
import { formatDateTime } from "../../lib/format";
import { customerName } from "./customerName";

/** "Opted out" with its time, or "Subscribed". */
export function ConsentBadge({ customer }: { customer: Customer }) {
  if (!customer.opted_out_at) return <span className="badge badge--subscribed">Subscribed</span>;
  return (
    <span className="badge badge--opted-out">
      Opted out <time dateTime={customer.opted_out_at}>{formatDateTime(customer.opted_out_at)}</time>
    </span>
  );
}

/**
 * Opt a customer out at once, or back in after a confirmation: an opted-out customer
 * may have said STOP, and only they can take that back.
 */
export function ConsentAction({ customer }: { customer: Customer }) {
  const consent = useSetConsent(customer.id);
  const [confirming, setConfirming] = useState(false);
  const name = customerName(customer);
  const optedOut = customer.opted_out_at !== null;

  const error = consent.isError ? (
    <p className="consent-action__error" role="alert">
      {errorMessage(consent.error)}
    </p>
  ) : null;

  if (!optedOut) {
    return (
      <div className="consent-action">
        <button
          type="button"
          className="button button--small"
          aria-label={`Opt out ${name}`}
          disabled={consent.isPending}
          onClick={() => consent.mutate(true)}
        >
          {consent.isPending ? "Opting out…" : "Opt out"}
        </button>
        {error}
      </div>
    );
  }
  if (confirming) {
    return (
      <div className="consent-action" role="group" aria-label={`Opt ${name} back in`}>
        <span className="consent-action__question">Only if they asked to get messages again.</span>
        <button
          type="button"
          className="button button--small button--primary"
          disabled={consent.isPending}
          onClick={() => consent.mutate(false, { onSuccess: () => setConfirming(false) })}
        >
          {consent.isPending ? "Opting in…" : "Confirm opt in"}
        </button>
        <button type="button" className="button button--small button--ghost" onClick={() => setConfirming(false)}>
          Keep opted out
        </button>
        {error}
      </div>
    );
  }
  return (
    <div className="consent-action">
      <button
        type="button"
        className="button button--small"
        aria-label={`Opt in ${name}`}
        onClick={() => {
          consent.reset();
          setConfirming(true);
        }}
      >
        Opt in
      </button>
    </div>
  );
}

import { useState } from "react";
import { ApiError } from "../../api/client";
import { useSendCampaign } from "../../api/queries";
import type { CampaignDetail, SendRequest } from "../../api/models";
import { Modal } from "../../components/Modal";
import { ErrorState } from "../../components/states";
import { formatNumber, pluralize } from "../../lib/format";
import { newIdempotencyKey } from "../../lib/idempotency";
import { CustomerMultiPicker } from "../customers/CustomerMultiPicker";

type Mode = "audience" | "pick";

interface Props {
  campaign: CampaignDetail;
  onClose: () => void;
}

/**
 * Mounted once per "Send" click, so each opening gets its own Idempotency-Key:
 * a double click (or a retry after a network error) can't queue twice.
 */
export function SendDialog({ campaign, onClose }: Props) {
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);
  const hasAudience = campaign.audience_size > 0;
  const [mode, setMode] = useState<Mode>(hasAudience ? "audience" : "pick");
  const [selected, setSelected] = useState<Set<number>>(() => new Set());
  const send = useSendCampaign(campaign.id);

  const recipients = mode === "audience" ? campaign.audience_size : selected.size;
  const canSend = recipients > 0 && !send.isPending;

  function onSend() {
    if (!canSend) return;
    const body: SendRequest = mode === "pick" ? { customer_ids: [...selected] } : {};
    send.mutate(
      { body, idempotencyKey },
      {
        onError: (error) => {
          // A 4xx means nothing was queued; let a corrected request use a new key.
          if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
            setIdempotencyKey(newIdempotencyKey());
          }
        },
      },
    );
  }

  if (send.isSuccess) {
    return (
      <Modal
        title="Campaign is sending"
        onClose={onClose}
        footer={
          <button type="button" className="button button--primary" onClick={onClose}>
            Watch live progress
          </button>
        }
      >
        <p className="send-result" role="status">
          <strong>{formatNumber(send.data.messages_queued)}</strong>{" "}
          {send.data.messages_queued === 1 ? "message" : "messages"} queued for “{campaign.name}”.
        </p>
      </Modal>
    );
  }

  return (
    <Modal
      title={`Send “${campaign.name}”`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button button--ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="button button--primary" disabled={!canSend} onClick={onSend}>
            {send.isPending ? "Sending…" : `Send to ${pluralize(recipients, "customer")}`}
          </button>
        </>
      }
    >
      {hasAudience && (
        <fieldset className="choice">
          <legend>Recipients</legend>
          <label className="choice__option">
            <input
              type="radio"
              name="send-mode"
              checked={mode === "audience"}
              onChange={() => setMode("audience")}
            />
            Saved audience ({pluralize(campaign.audience_size, "customer")})
          </label>
          <label className="choice__option">
            <input type="radio" name="send-mode" checked={mode === "pick"} onChange={() => setMode("pick")} />
            Choose customers
          </label>
        </fieldset>
      )}
      {mode === "pick" && <CustomerMultiPicker idPrefix="send" selected={selected} onChange={setSelected} />}
      {send.isError && <SendError error={send.error} />}
    </Modal>
  );
}

function SendError({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === "CAMPAIGN_NOT_SENDABLE") {
    return <ErrorState title="This campaign can't be sent" error={error} />;
  }
  if (error instanceof ApiError && error.details.length > 0) {
    return (
      <div className="state state--error" role="alert">
        <p className="state__title">{error.message}</p>
        <ul className="state__list">
          {error.details.map((d, i) => (
            <li key={i}>{d.message}</li>
          ))}
        </ul>
      </div>
    );
  }
  if (error instanceof ApiError && error.isUnreachable) {
    return (
      <div className="state state--error" role="alert">
        <p className="state__title">Couldn't reach the API</p>
        <p className="state__body">
          Sending again is safe: this dialog reuses its request key, so nothing is queued twice.
        </p>
      </div>
    );
  }
  return <ErrorState title="Sending failed" error={error} />;
}

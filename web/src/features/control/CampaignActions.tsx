import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, errorMessage } from "../../api/client";
import type { CampaignDetail } from "../../api/models";
import {
  queryKeys,
  useCancelCampaign,
  usePauseCampaign,
  useResumeCampaign,
  useRetryFailed,
} from "../../api/queries";
import { Modal } from "../../components/Modal";
import { pluralize } from "../../lib/format";
import { newIdempotencyKey } from "../../lib/idempotency";
import { SendDialog } from "../send/SendDialog";
import { PAUSE_REASON_MAX, availableActions } from "./actions";
import { EditCampaignDialog } from "./EditCampaignDialog";

type Dialog = "send" | "edit" | "pause" | "cancel" | null;

interface Failure {
  title: string;
  error: unknown;
}

export function CampaignActions({ campaign }: { campaign: CampaignDetail }) {
  const queryClient = useQueryClient();
  const [dialog, setDialog] = useState<Dialog>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Kept across a network failure (the retry may have been queued: the same key can't queue
  // twice), replaced once the API has answered.
  const [retryKey, setRetryKey] = useState(newIdempotencyKey);
  const pause = usePauseCampaign(campaign.id);
  const resume = useResumeCampaign(campaign.id);
  const cancel = useCancelCampaign(campaign.id);
  const retry = useRetryFailed(campaign.id);
  const can = availableActions(campaign);
  const busy = pause.isPending || resume.isPending || cancel.isPending || retry.isPending;

  function refused(title: string, error: unknown) {
    setNotice(null);
    setFailure({ title, error });
    // A 409 means the campaign moved on (finished, paused elsewhere): show where it is now.
    if (error instanceof ApiError && error.status === 409) {
      void queryClient.invalidateQueries({ queryKey: queryKeys.campaign(campaign.id) });
    }
  }

  function open(next: Dialog) {
    setFailure(null);
    setNotice(null);
    pause.reset();
    cancel.reset();
    setDialog(next);
  }

  function onResume() {
    setFailure(null);
    setNotice(null);
    resume.mutate(undefined, {
      onSuccess: () => setNotice("Resumed: the remaining messages are going out."),
      onError: (error) => refused("Couldn't resume the campaign", error),
    });
  }

  function onRetryFailed() {
    setFailure(null);
    setNotice(null);
    retry.mutate(retryKey, {
      onSuccess: (answer) => {
        setRetryKey(newIdempotencyKey());
        setNotice(
          answer.messages_queued > 0
            ? `${pluralize(answer.messages_queued, "failed message")} queued again.`
            : "No failed message could be retried (they can't succeed: invalid numbers, opt-outs…).",
        );
      },
      onError: (error) => {
        if (!(error instanceof ApiError && error.isUnreachable)) setRetryKey(newIdempotencyKey());
        refused("Couldn't retry the failed messages", error);
      },
    });
  }

  return (
    <div className="actions">
      <div className="actions__buttons" role="group" aria-label="Campaign actions">
        {can.edit && (
          <button type="button" className="button" onClick={() => open("edit")}>
            Edit…
          </button>
        )}
        {can.pause && (
          <button type="button" className="button" disabled={busy} onClick={() => open("pause")}>
            Pause…
          </button>
        )}
        {can.resume && (
          <button type="button" className="button button--primary" disabled={busy} onClick={onResume}>
            {resume.isPending ? "Resuming…" : "Resume"}
          </button>
        )}
        {can.retryFailed && (
          <button type="button" className="button" disabled={busy} onClick={onRetryFailed}>
            {retry.isPending ? "Retrying…" : `Retry ${pluralize(campaign.stats.failed, "failed message")}`}
          </button>
        )}
        {can.cancel && (
          <button type="button" className="button button--danger" disabled={busy} onClick={() => open("cancel")}>
            Cancel campaign…
          </button>
        )}
        {can.send && (
          <button type="button" className="button button--primary" onClick={() => open("send")}>
            Send…
          </button>
        )}
      </div>
      {failure && <ActionError failure={failure} onDismiss={() => setFailure(null)} />}
      {notice && (
        <p className="form__notice actions__notice" role="status">
          {notice}
        </p>
      )}

      {dialog === "send" && <SendDialog campaign={campaign} onClose={() => setDialog(null)} />}
      {dialog === "edit" && <EditCampaignDialog campaign={campaign} onClose={() => setDialog(null)} />}
      {dialog === "pause" && (
        <PauseDialog
          campaign={campaign}
          pending={pause.isPending}
          error={pause.error}
          onClose={() => setDialog(null)}
          onConfirm={(reason) =>
            pause.mutate(reason, {
              onSuccess: () => setDialog(null),
              onError: (error) => {
                if (error instanceof ApiError && error.status === 409) {
                  void queryClient.invalidateQueries({ queryKey: queryKeys.campaign(campaign.id) });
                }
              },
            })
          }
        />
      )}
      {dialog === "cancel" && (
        <CancelDialog
          campaign={campaign}
          pending={cancel.isPending}
          error={cancel.error}
          onClose={() => setDialog(null)}
          onConfirm={() =>
            cancel.mutate(undefined, {
              onSuccess: () => setDialog(null),
              onError: (error) => {
                if (error instanceof ApiError && error.status === 409) {
                  void queryClient.invalidateQueries({ queryKey: queryKeys.campaign(campaign.id) });
                }
              },
            })
          }
        />
      )}
    </div>
  );
}

function ActionError({ failure, onDismiss }: { failure: Failure; onDismiss: () => void }) {
  return (
    <div className="form__alert actions__error" role="alert">
      <p>
        {failure.title}: {errorMessage(failure.error)}
      </p>
      {failure.error instanceof ApiError && failure.error.status === 409 && (
        <p className="actions__error-hint">The campaign's status changed; it now shows its current state.</p>
      )}
      <button type="button" className="link-button" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}

function DialogError({ title, error }: { title: string; error: unknown }) {
  if (!error) return null;
  return (
    <div className="form__alert" role="alert">
      {title}: {errorMessage(error)}
    </div>
  );
}

function PauseDialog({
  campaign,
  pending,
  error,
  onClose,
  onConfirm,
}: {
  campaign: CampaignDetail;
  pending: boolean;
  error: unknown;
  onClose: () => void;
  onConfirm: (reason: string | null) => void;
}) {
  const [reason, setReason] = useState("");
  return (
    <Modal
      title={`Pause “${campaign.name}”?`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button button--ghost" onClick={onClose}>
            Keep sending
          </button>
          <button
            type="button"
            className="button button--primary"
            disabled={pending}
            onClick={() => onConfirm(reason.trim() || null)}
          >
            {pending ? "Pausing…" : "Pause campaign"}
          </button>
        </>
      }
    >
      <p>
        No further messages go out until you resume it. Messages already handed to the provider finish and
        are recorded.
      </p>
      <div className="field">
        <label className="field__label" htmlFor="pause-reason">
          Reason <span className="field__optional">(optional)</span>
        </label>
        <textarea
          id="pause-reason"
          className="input input--short"
          rows={2}
          maxLength={PAUSE_REASON_MAX}
          value={reason}
          placeholder="Shown on the campaign while it is paused"
          onChange={(e) => setReason(e.target.value)}
        />
      </div>
      <DialogError title="Couldn't pause the campaign" error={error} />
    </Modal>
  );
}

function CancelDialog({
  campaign,
  pending,
  error,
  onClose,
  onConfirm,
}: {
  campaign: CampaignDetail;
  pending: boolean;
  error: unknown;
  onClose: () => void;
  onConfirm: () => void;
}) {
  const unsent = campaign.stats.pending + campaign.stats.sending;
  return (
    <Modal
      title={`Cancel “${campaign.name}”?`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button button--ghost" onClick={onClose}>
            Keep campaign
          </button>
          <button type="button" className="button button--danger" disabled={pending} onClick={onConfirm}>
            {pending ? "Cancelling…" : "Cancel campaign"}
          </button>
        </>
      }
    >
      <p>
        {campaign.stats.total > 0
          ? `Messages not yet attempted (up to ${pluralize(unsent, "message")}) are cancelled and never sent; attempts already in flight keep their outcome.`
          : "The campaign will never be sent."}{" "}
        This can't be undone.
      </p>
      <DialogError title="Couldn't cancel the campaign" error={error} />
    </Modal>
  );
}

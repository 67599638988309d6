import type { CampaignDetail, CampaignStatus } from "../../api/models";

const SENDABLE: ReadonlySet<CampaignStatus> = new Set(["draft", "scheduled"]);
const CANCELLABLE: ReadonlySet<CampaignStatus> = new Set(["draft", "scheduled", "sending", "paused"]);
export const PAUSE_REASON_MAX = 500;

/** Which controls a campaign offers, by its status (the API refuses the others with a 409). */
export function availableActions(campaign: CampaignDetail) {
  const { status } = campaign;
  return {
    send: SENDABLE.has(status),
    edit: SENDABLE.has(status),
    pause: status === "sending",
    resume: status === "paused",
    cancel: CANCELLABLE.has(status),
    retryFailed: (status === "sent" || status === "failed") && campaign.stats.failed > 0,
  };
}

import type { CampaignDetail, Channel } from "../../api/models";
import type { CampaignUpdate } from "../../api/queries";
import { isoToLocalInput, localInputToIsoUtc } from "../../lib/datetime";

/** What the edit form holds, as typed (the schedule as a `datetime-local` value). */
export interface EditValues {
  name: string;
  channel: Channel;
  template: string;
  schedule: string;
}

/**
 * The PATCH body: only what differs from `campaign`. The schedule is compared as the
 * form shows it (local minutes), so an untouched schedule is never sent back rounded.
 */
export function changedFields(campaign: CampaignDetail, values: EditValues): CampaignUpdate {
  const body: CampaignUpdate = {};
  const name = values.name.trim();
  if (name !== campaign.name) body.name = name;
  if (values.channel !== campaign.channel) body.channel = values.channel;
  if (values.template !== campaign.base_template) body.base_template = values.template;
  if (values.schedule !== isoToLocalInput(campaign.scheduled_at)) {
    // Cleared: null makes it a draft again.
    body.scheduled_at = localInputToIsoUtc(values.schedule);
  }
  return body;
}

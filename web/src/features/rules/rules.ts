// A campaign's delivery rules as the create and edit forms hold them: the send window
// (quiet hours on each recipient's clock), the expiry, and for WhatsApp an approved
// template. Typed values in, the API's JSON out.
import type { CampaignDetail, Channel, SendWindow, WhatsAppTemplate } from "../../api/models";
import type { CampaignUpdate } from "../../api/queries";
import { isoToLocalInput, localInputToIsoUtc } from "../../lib/datetime";
import type { FieldErrors } from "../../lib/fieldErrors";

export interface RulesValues {
  /** "HH:MM" or "" (both empty: no window of its own). */
  windowStart: string;
  windowEnd: string;
  /** A `datetime-local` value, or "". */
  expires: string;
  useTemplate: boolean;
  templateName: string;
  templateLanguage: string;
  /** One body parameter per line, {{1}} first. */
  templateParams: string;
  /** Twilio's Content SID (HX…) for the template, or "". */
  templateContentSid: string;
}

export const EMPTY_RULES: RulesValues = {
  windowStart: "",
  windowEnd: "",
  expires: "",
  useTemplate: false,
  templateName: "",
  templateLanguage: "",
  templateParams: "",
  templateContentSid: "",
};

/** The API's names for these fields, as 422 details name them. */
export const RULE_FIELDS = [
  "send_window",
  "send_window.start",
  "send_window.end",
  "expires_at",
  "whatsapp_template",
  "whatsapp_template.name",
  "whatsapp_template.language",
  "whatsapp_template.body_params",
  "whatsapp_template.content_sid",
] as const;

const HH_MM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

/** The form's values for a stored campaign. */
export function rulesFrom(campaign: CampaignDetail): RulesValues {
  const t = campaign.whatsapp_template;
  return {
    windowStart: campaign.send_window?.start ?? "",
    windowEnd: campaign.send_window?.end ?? "",
    expires: isoToLocalInput(campaign.expires_at),
    useTemplate: t !== null,
    templateName: t?.name ?? "",
    templateLanguage: t?.language ?? "",
    templateParams: (t?.body_params ?? []).join("\n"),
    templateContentSid: t?.content_sid ?? "",
  };
}

export function sendWindowFrom(values: RulesValues): SendWindow | null {
  return values.windowStart && values.windowEnd ? { start: values.windowStart, end: values.windowEnd } : null;
}

/** The template to send, or null: none chosen, or the channel is not WhatsApp. */
export function whatsappTemplateFrom(values: RulesValues, channel: Channel): WhatsAppTemplate | null {
  if (channel !== "whatsapp" || !values.useTemplate) return null;
  const contentSid = values.templateContentSid.trim();
  return {
    name: values.templateName.trim(),
    language: values.templateLanguage.trim(),
    body_params: values.templateParams
      .split("\n")
      .map((p) => p.trim())
      .filter(Boolean),
    ...(contentSid ? { content_sid: contentSid } : {}),
  };
}

/** What the API would refuse anyway, said before sending. Keys are RULE_FIELDS. */
export function validateRules(values: RulesValues, channel: Channel): FieldErrors {
  const errors: FieldErrors = {};
  const { windowStart: start, windowEnd: end } = values;
  if (start && !HH_MM.test(start)) errors["send_window.start"] = "Enter a time as HH:MM (24-hour).";
  if (end && !HH_MM.test(end)) errors["send_window.end"] = "Enter a time as HH:MM (24-hour).";
  if (start && !end) errors["send_window.end"] = "Give the window an end too, or clear its start.";
  if (end && !start) errors["send_window.start"] = "Give the window a start too, or clear its end.";
  if (start && end && start === end) errors["send_window.end"] = "The end must differ from the start.";
  if (values.expires && !localInputToIsoUtc(values.expires)) errors.expires_at = "Enter a valid date and time.";
  if (channel === "whatsapp" && values.useTemplate) {
    if (!/^[a-z0-9_]+$/.test(values.templateName.trim())) {
      errors["whatsapp_template.name"] = "Enter the template's name as approved: lowercase letters, digits and _.";
    }
    if (!/^[A-Za-z_]{2,15}$/.test(values.templateLanguage.trim())) {
      errors["whatsapp_template.language"] = "Enter its language code, like en or en_US.";
    }
    const contentSid = values.templateContentSid.trim();
    if (contentSid && !/^HX[0-9a-fA-F]{32}$/.test(contentSid)) {
      errors["whatsapp_template.content_sid"] = "A Twilio Content SID is HX followed by 32 hexadecimal digits.";
    }
  }
  return errors;
}

/** The create body's rule fields: only those set. */
export function rulesBody(values: RulesValues, channel: Channel) {
  const body: { send_window?: SendWindow; expires_at?: string; whatsapp_template?: WhatsAppTemplate } = {};
  const window = sendWindowFrom(values);
  if (window) body.send_window = window;
  const expires = localInputToIsoUtc(values.expires);
  if (expires) body.expires_at = expires;
  const template = whatsappTemplateFrom(values, channel);
  if (template) body.whatsapp_template = template;
  return body;
}

const sameWindow = (a: SendWindow | null, b: SendWindow | null) =>
  a === b || (a !== null && b !== null && a.start === b.start && a.end === b.end);

const sameTemplate = (a: WhatsAppTemplate | null, b: WhatsAppTemplate | null) =>
  a === b ||
  (a !== null &&
    b !== null &&
    a.name === b.name &&
    a.language === b.language &&
    (a.content_sid ?? null) === (b.content_sid ?? null) &&
    JSON.stringify(a.body_params ?? []) === JSON.stringify(b.body_params ?? []));

/** The PATCH body's rule fields: what differs from the campaign (null clears). */
export function changedRules(campaign: CampaignDetail, values: RulesValues, channel: Channel): CampaignUpdate {
  const body: CampaignUpdate = {};
  const window = sendWindowFrom(values);
  if (!sameWindow(window, campaign.send_window)) body.send_window = window;
  if (values.expires !== isoToLocalInput(campaign.expires_at)) body.expires_at = localInputToIsoUtc(values.expires);
  const template = whatsappTemplateFrom(values, channel);
  if (!sameTemplate(template, campaign.whatsapp_template)) body.whatsapp_template = template;
  return body;
}

/** DOM ids of the controls, for focus after an error: `${prefix}-…`. */
export function ruleControlIds(prefix: string): Record<string, string> {
  return {
    send_window: `${prefix}-window-start`,
    "send_window.start": `${prefix}-window-start`,
    "send_window.end": `${prefix}-window-end`,
    expires_at: `${prefix}-expires`,
    whatsapp_template: `${prefix}-wa-template`,
    "whatsapp_template.name": `${prefix}-wa-name`,
    "whatsapp_template.language": `${prefix}-wa-language`,
    "whatsapp_template.body_params": `${prefix}-wa-params`,
    "whatsapp_template.content_sid": `${prefix}-wa-content-sid`,
  };
}

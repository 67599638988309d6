import { useId, useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../../api/client";
import type { CampaignDetail, Channel } from "../../api/models";
import { CHANNELS } from "../../api/models";
import { useUpdateCampaign } from "../../api/queries";
import { Field } from "../../components/Field";
import { Modal } from "../../components/Modal";
import { isoToLocalInput, localInputToIsoUtc } from "../../lib/datetime";
import { fieldErrorsFrom, type FieldErrors } from "../../lib/fieldErrors";
import { CHANNEL_LABELS, pluralize } from "../../lib/format";
import { PreviewPanel } from "../create/PreviewPanel";
import { TemplateEditor } from "../create/TemplateEditor";
import { CustomerMultiPicker } from "../customers/CustomerMultiPicker";
import { RulesFields } from "../rules/RulesFields";
import { RULE_FIELDS, changedRules, rulesFrom, validateRules, type RulesValues } from "../rules/rules";
import { SegmentFields } from "../send/SegmentFields";
import { EMPTY_SEGMENT, describeSegment, segmentDraftFrom, segmentFrom, type SegmentDraft } from "../send/segment";
import { changedFields, type EditValues } from "./changedFields";

const FIELDS = [
  "name",
  "channel",
  "base_template",
  "scheduled_at",
  "customer_ids",
  "segment",
  "location",
  "preferred_product",
  ...RULE_FIELDS,
] as const;

/** Keep the stored audience, or replace it by chosen customers or a segment. */
type AudienceMode = "keep" | "pick" | "segment";

function validate(values: EditValues, audience: AudienceMode, picked: number, segmentDraft: SegmentDraft): FieldErrors {
  const errors: FieldErrors = {};
  if (!values.name.trim()) errors.name = "Give the campaign a name.";
  else if (values.name.trim().length > 200) errors.name = "Keep the name under 200 characters.";
  if (!values.template.trim()) errors.base_template = "Write the message template.";
  if (values.schedule && !localInputToIsoUtc(values.schedule)) errors.scheduled_at = "Enter a valid date and time.";
  if (audience === "pick" && picked === 0) errors.customer_ids = "Choose at least one customer.";
  if (audience === "segment" && segmentFrom(segmentDraft) === null) {
    errors.segment = "Fill in a location, a preferred product, or both.";
  }
  return errors;
}

/**
 * Change a draft or scheduled campaign. Only the fields that differ from the campaign
 * as loaded are sent, so an edit can't overwrite a field nobody touched here.
 */
export function EditCampaignDialog({ campaign, onClose }: { campaign: CampaignDetail; onClose: () => void }) {
  const formId = useId();
  const update = useUpdateCampaign(campaign.id);
  const [values, setValues] = useState<EditValues>(() => ({
    name: campaign.name,
    channel: campaign.channel,
    template: campaign.base_template,
    schedule: isoToLocalInput(campaign.scheduled_at),
  }));
  const [audience, setAudience] = useState<AudienceMode>("keep");
  const [picked, setPicked] = useState<Set<number>>(() => new Set());
  const [segmentDraft, setSegmentDraft] = useState<SegmentDraft>(() =>
    campaign.segment ? segmentDraftFrom(campaign.segment) : EMPTY_SEGMENT,
  );
  const [rules, setRules] = useState<RulesValues>(() => rulesFrom(campaign));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);

  function set<K extends keyof EditValues>(key: K, value: EditValues[K], field: string) {
    setValues((v) => ({ ...v, [key]: value }));
    if (errors[field]) setErrors(({ [field]: _removed, ...rest }) => rest);
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setFormError(null);
    const clientErrors = {
      ...validate(values, audience, picked.size, segmentDraft),
      ...validateRules(rules, values.channel),
    };
    setErrors(clientErrors);
    if (Object.keys(clientErrors).length > 0) return;

    const body = { ...changedFields(campaign, values), ...changedRules(campaign, rules, values.channel) };
    if (audience === "pick") body.customer_ids = [...picked];
    if (audience === "segment") body.segment = segmentFrom(segmentDraft);
    if (Object.keys(body).length === 0) {
      onClose(); // nothing changed: nothing to send
      return;
    }
    update.mutate(body, {
      onSuccess: onClose,
      onError: (error) => {
        const serverErrors = fieldErrorsFrom(error, FIELDS);
        setErrors(serverErrors);
        if (Object.keys(serverErrors).length > 0) setFormError("Please fix the highlighted fields.");
        else if (error instanceof ApiError && error.code === "CAMPAIGN_NOT_EDITABLE") {
          setFormError(`This campaign can no longer be edited: ${error.message}`);
        } else setFormError(errorMessage(error));
      },
    });
  }

  const scheduledIso = localInputToIsoUtc(values.schedule);
  const segmentErrors = {
    location: errors.location,
    preferred_product: errors.preferred_product,
    segment: errors.segment,
  };

  return (
    <Modal
      title={`Edit “${campaign.name}”`}
      onClose={onClose}
      variant="wide"
      footer={
        <>
          <button type="button" className="button button--ghost" onClick={onClose}>
            Discard changes
          </button>
          <button type="submit" form={formId} className="button button--primary" disabled={update.isPending}>
            {update.isPending ? "Saving…" : "Save changes"}
          </button>
        </>
      }
    >
      <form id={formId} className="edit-form" onSubmit={onSubmit} noValidate aria-label="Edit campaign">
        {formError && (
          <div className="form__alert" role="alert">
            {formError}
          </div>
        )}
        <Field id="edit-name" label="Name" error={errors.name}>
          {(control) => (
            <input
              {...control}
              className="input"
              value={values.name}
              maxLength={200}
              autoComplete="off"
              onChange={(e) => set("name", e.target.value, "name")}
            />
          )}
        </Field>

        <fieldset className={`field choice${errors.channel ? " field--invalid" : ""}`}>
          <legend className="field__label">Channel</legend>
          <div className="choice__row">
            {CHANNELS.map((c) => (
              <label key={c} className="choice__option">
                <input
                  type="radio"
                  name="edit-channel"
                  value={c}
                  checked={values.channel === c}
                  onChange={() => set("channel", c as Channel, "channel")}
                />
                {CHANNEL_LABELS[c]}
              </label>
            ))}
          </div>
          {errors.channel && <p className="field__error">{errors.channel}</p>}
        </fieldset>

        <Field id="edit-template" label="Message template" error={errors.base_template}>
          {(control) => (
            <TemplateEditor
              {...control}
              value={values.template}
              onChange={(value) => set("template", value, "base_template")}
            />
          )}
        </Field>

        <PreviewPanel template={values.template} channel={values.channel} />

        <Field
          id="edit-schedule"
          label="Schedule"
          optional
          error={errors.scheduled_at}
          hint={
            scheduledIso
              ? `Will send at ${scheduledIso} (UTC).`
              : "Empty: a draft, sent only when you send it."
          }
        >
          {(control) => (
            <input
              {...control}
              className="input"
              type="datetime-local"
              value={values.schedule}
              onChange={(e) => set("schedule", e.target.value, "scheduled_at")}
            />
          )}
        </Field>

        <RulesFields
          idPrefix="edit"
          channel={values.channel}
          values={rules}
          errors={errors}
          onChange={(next, clears) => {
            setRules(next);
            if (clears.some((f) => errors[f])) {
              setErrors((e) => Object.fromEntries(Object.entries(e).filter(([f]) => !clears.includes(f))));
            }
          }}
        />

        <fieldset className={`field choice${errors.customer_ids ? " field--invalid" : ""}`}>
          <legend className="field__label">Audience</legend>
          <label className="choice__option">
            <input type="radio" name="edit-audience" checked={audience === "keep"} onChange={() => setAudience("keep")} />
            Keep the current audience ({currentAudience(campaign)})
          </label>
          <label className="choice__option">
            <input type="radio" name="edit-audience" checked={audience === "pick"} onChange={() => setAudience("pick")} />
            Chosen customers
          </label>
          <label className="choice__option">
            <input
              type="radio"
              name="edit-audience"
              checked={audience === "segment"}
              onChange={() => setAudience("segment")}
            />
            A segment
          </label>
          {errors.customer_ids && <p className="field__error">{errors.customer_ids}</p>}
        </fieldset>
        {audience === "pick" && <CustomerMultiPicker idPrefix="edit" selected={picked} onChange={setPicked} />}
        {audience === "segment" && (
          <SegmentFields idPrefix="edit" value={segmentDraft} onChange={setSegmentDraft} errors={segmentErrors} />
        )}
      </form>
    </Modal>
  );
}

function currentAudience(campaign: CampaignDetail): string {
  if (campaign.segment) return describeSegment(campaign.segment);
  if (campaign.audience_size > 0) return pluralize(campaign.audience_size, "customer");
  return "none saved";
}

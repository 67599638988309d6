import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { errorMessage } from "../api/client";
import { useCreateCampaign } from "../api/queries";
import type { CampaignCreate, Channel } from "../api/models";
import { CHANNELS } from "../api/models";
import { Field } from "../components/Field";
import { PreviewPanel } from "../features/create/PreviewPanel";
import { TemplateEditor } from "../features/create/TemplateEditor";
import { CustomerMultiPicker } from "../features/customers/CustomerMultiPicker";
import { RulesFields } from "../features/rules/RulesFields";
import {
  EMPTY_RULES,
  RULE_FIELDS,
  ruleControlIds,
  rulesBody,
  validateRules,
  type RulesValues,
} from "../features/rules/rules";
import { localInputToIsoUtc } from "../lib/datetime";
import { fieldErrorsFrom, type FieldErrors } from "../lib/fieldErrors";
import { CHANNEL_LABELS } from "../lib/format";

const FIELDS = ["name", "channel", "base_template", "scheduled_at", ...RULE_FIELDS, "customer_ids"] as const;
type FieldName = (typeof FIELDS)[number];

/** DOM id of the control that owns each API field, for focus after errors. */
const CONTROL_IDS: Record<FieldName, string> = {
  name: "campaign-name",
  channel: "campaign-channel-sms",
  base_template: "campaign-template",
  scheduled_at: "campaign-schedule",
  customer_ids: "audience-search",
  ...(ruleControlIds("campaign") as Record<(typeof RULE_FIELDS)[number], string>),
};

function validate(name: string, template: string): FieldErrors {
  const errors: FieldErrors = {};
  if (!name.trim()) errors.name = "Give the campaign a name.";
  else if (name.trim().length > 200) errors.name = "Keep the name under 200 characters.";
  if (!template.trim()) errors.base_template = "Write the message template.";
  return errors;
}

export function CreateCampaignPage() {
  const navigate = useNavigate();
  const create = useCreateCampaign();
  const [name, setName] = useState("");
  const [channel, setChannel] = useState<Channel>("sms");
  const [template, setTemplate] = useState("");
  const [schedule, setSchedule] = useState("");
  const [pickAudience, setPickAudience] = useState(false);
  const [audience, setAudience] = useState<Set<number>>(() => new Set());
  const [rules, setRules] = useState<RulesValues>(EMPTY_RULES);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);

  const scheduledIso = localInputToIsoUtc(schedule);

  function clearError(field: FieldName) {
    if (errors[field]) setErrors(({ [field]: _removed, ...rest }) => rest);
  }

  function focusFirstError(found: FieldErrors) {
    const first = FIELDS.find((f) => found[f]);
    if (first) document.getElementById(CONTROL_IDS[first])?.focus();
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setFormError(null);
    const clientErrors = { ...validate(name, template), ...validateRules(rules, channel) };
    setErrors(clientErrors);
    if (Object.keys(clientErrors).length > 0) {
      focusFirstError(clientErrors);
      return;
    }
    const body: CampaignCreate = { name: name.trim(), channel, base_template: template, ...rulesBody(rules, channel) };
    if (scheduledIso) body.scheduled_at = scheduledIso;
    if (pickAudience && audience.size > 0) body.customer_ids = [...audience];

    create.mutate(body, {
      onSuccess: (campaign) => navigate(`/campaigns/${campaign.id}`),
      onError: (error) => {
        const serverErrors = fieldErrorsFrom(error, FIELDS);
        setErrors(serverErrors);
        if (Object.keys(serverErrors).length > 0) {
          setFormError("Please fix the highlighted fields.");
          focusFirstError(serverErrors);
        } else {
          setFormError(errorMessage(error));
        }
      },
    });
  }

  return (
    <section aria-labelledby="create-title">
      <div className="page-header">
        <h1 id="create-title">New campaign</h1>
      </div>

      <form className="create-layout" onSubmit={onSubmit} noValidate aria-labelledby="create-title">
        <div className="card create-layout__main">
          {formError && (
            <div className="form__alert" role="alert">
              {formError}
            </div>
          )}

          <Field id="campaign-name" label="Name" error={errors.name}>
            {(control) => (
              <input
                {...control}
                className="input"
                value={name}
                maxLength={200}
                autoComplete="off"
                onChange={(e) => {
                  setName(e.target.value);
                  clearError("name");
                }}
              />
            )}
          </Field>

          <fieldset className={`field choice${errors.channel ? " field--invalid" : ""}`}>
            <legend className="field__label">Channel</legend>
            <div className="choice__row">
              {CHANNELS.map((c) => (
                <label key={c} className="choice__option">
                  <input
                    id={`campaign-channel-${c}`}
                    type="radio"
                    name="channel"
                    value={c}
                    checked={channel === c}
                    onChange={() => {
                      setChannel(c);
                      clearError("channel");
                    }}
                  />
                  {CHANNEL_LABELS[c]}
                </label>
              ))}
            </div>
            {errors.channel && <p className="field__error">{errors.channel}</p>}
          </fieldset>

          <Field
            id="campaign-template"
            label="Message template"
            error={errors.base_template}
            hint={
              <>
                Click a placeholder to insert it. Use <code>{"{field|fallback}"}</code> for customers missing a
                value, and <code>{"{{"}</code> for a literal brace.
              </>
            }
          >
            {(control) => (
              <TemplateEditor
                {...control}
                value={template}
                onChange={(value) => {
                  setTemplate(value);
                  clearError("base_template");
                }}
              />
            )}
          </Field>
        </div>

        <PreviewPanel template={template} channel={channel} />

        <div className="card create-layout__extra">
          <Field
            id="campaign-schedule"
            label="Schedule"
            optional
            error={errors.scheduled_at}
            hint={
              scheduledIso
                ? `Will send at ${scheduledIso} (UTC).`
                : "Leave empty to keep it as a draft and send it yourself."
            }
          >
            {(control) => (
              <input
                {...control}
                className="input"
                type="datetime-local"
                value={schedule}
                onChange={(e) => {
                  setSchedule(e.target.value);
                  clearError("scheduled_at");
                }}
              />
            )}
          </Field>

          <RulesFields
            idPrefix="campaign"
            channel={channel}
            values={rules}
            errors={errors}
            onChange={(next, clears) => {
              setRules(next);
              if (clears.some((f) => errors[f])) {
                setErrors((e) => Object.fromEntries(Object.entries(e).filter(([f]) => !clears.includes(f))));
              }
            }}
          />

          <fieldset className={`field${errors.customer_ids ? " field--invalid" : ""}`}>
            <legend className="field__label">
              Audience <span className="field__optional">(optional)</span>
            </legend>
            <label className="choice__option">
              <input
                type="checkbox"
                checked={pickAudience}
                onChange={(e) => setPickAudience(e.target.checked)}
              />
              Save an audience with this campaign
            </label>
            {pickAudience && (
              <CustomerMultiPicker
                idPrefix="audience"
                selected={audience}
                onChange={(next) => {
                  setAudience(next);
                  clearError("customer_ids");
                }}
              />
            )}
            {errors.customer_ids && <p className="field__error">{errors.customer_ids}</p>}
          </fieldset>

          <div className="form__actions">
            <button type="submit" className="button button--primary" disabled={create.isPending}>
              {create.isPending ? "Creating…" : "Create campaign"}
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}

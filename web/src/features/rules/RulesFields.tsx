import type { Channel } from "../../api/models";
import { Field } from "../../components/Field";
import { localInputToIsoUtc } from "../../lib/datetime";
import type { FieldErrors } from "../../lib/fieldErrors";
import { ruleControlIds, sendWindowFrom, type RulesValues } from "./rules";

/** Which error a change to a value clears. */
const CLEARS: Record<keyof RulesValues, string[]> = {
  windowStart: ["send_window", "send_window.start"],
  windowEnd: ["send_window", "send_window.end"],
  expires: ["expires_at"],
  useTemplate: ["whatsapp_template"],
  templateName: ["whatsapp_template", "whatsapp_template.name"],
  templateLanguage: ["whatsapp_template", "whatsapp_template.language"],
  templateParams: ["whatsapp_template", "whatsapp_template.body_params"],
  templateContentSid: ["whatsapp_template", "whatsapp_template.content_sid"],
};

interface Props {
  idPrefix: string;
  channel: Channel;
  values: RulesValues;
  errors: FieldErrors;
  /** A value changed; `clears` are the error keys it makes stale. */
  onChange: (values: RulesValues, clears: string[]) => void;
}

/** Send window, expiry and (WhatsApp) approved template, for the create and edit forms. */
export function RulesFields({ idPrefix, channel, values, errors, onChange }: Props) {
  const ids = ruleControlIds(idPrefix);
  const set = <K extends keyof RulesValues>(key: K, value: RulesValues[K]) =>
    onChange({ ...values, [key]: value }, CLEARS[key]);
  const window = sendWindowFrom(values);
  const expiresIso = localInputToIsoUtc(values.expires);
  const windowError = errors.send_window;

  return (
    <>
      <fieldset className={`field rules-window${windowError ? " field--invalid" : ""}`}>
        <legend className="field__label">
          Send window <span className="field__optional">(optional)</span>
        </legend>
        <p className="field__hint" id={`${idPrefix}-window-hint`}>
          {window ? (
            <>
              Send only between {window.start} and {window.end} in each customer's local time
              {window.start > window.end ? " (overnight: it wraps past midnight)." : "."}
            </>
          ) : (
            "Leave both empty to send at any time (unless the service sets a default window)."
          )}{" "}
          A start after the end wraps past midnight: 21:00 to 06:00 is the night. Messages outside it wait for it
          to open.
        </p>
        {windowError && <p className="field__error">{windowError}</p>}
        <div className="rules-window__row">
          <Field id={ids["send_window.start"]!} label="From (customer's local time)" error={errors["send_window.start"]}>
            {(control) => (
              <input
                {...control}
                className="input"
                type="time"
                step={60}
                value={values.windowStart}
                onChange={(e) => set("windowStart", e.target.value)}
              />
            )}
          </Field>
          <Field id={ids["send_window.end"]!} label="Until (customer's local time)" error={errors["send_window.end"]}>
            {(control) => (
              <input
                {...control}
                className="input"
                type="time"
                step={60}
                value={values.windowEnd}
                onChange={(e) => set("windowEnd", e.target.value)}
              />
            )}
          </Field>
        </div>
      </fieldset>

      <Field
        id={ids.expires_at!}
        label="Expires"
        optional
        error={errors.expires_at}
        hint={
          expiresIso
            ? `Nothing is sent after ${expiresIso} (UTC): messages not sent by then fail as expired.`
            : "Empty: it never expires. Set it when a message is useless late (a sale that ends)."
        }
      >
        {(control) => (
          <input
            {...control}
            className="input"
            type="datetime-local"
            value={values.expires}
            onChange={(e) => set("expires", e.target.value)}
          />
        )}
      </Field>

      {channel === "whatsapp" && (
        <fieldset className={`field rules-template${errors.whatsapp_template ? " field--invalid" : ""}`}>
          <legend className="field__label">
            WhatsApp template <span className="field__optional">(optional)</span>
          </legend>
          <label className="choice__option">
            <input
              id={ids.whatsapp_template}
              type="checkbox"
              checked={values.useTemplate}
              onChange={(e) => set("useTemplate", e.target.checked)}
            />
            Send an approved template instead of the text above
          </label>
          <p className="field__hint">
            WhatsApp delivers free text only within 24 hours of the customer's last message; a template approved in
            WhatsApp Manager reaches anyone.
          </p>
          {errors.whatsapp_template && <p className="field__error">{errors.whatsapp_template}</p>}
          {values.useTemplate && (
            <div className="rules-template__fields">
              <Field id={ids["whatsapp_template.name"]!} label="Template name" error={errors["whatsapp_template.name"]}>
                {(control) => (
                  <input
                    {...control}
                    className="input"
                    value={values.templateName}
                    maxLength={512}
                    autoComplete="off"
                    placeholder="spring_sale"
                    onChange={(e) => set("templateName", e.target.value)}
                  />
                )}
              </Field>
              <Field
                id={ids["whatsapp_template.language"]!}
                label="Language code"
                error={errors["whatsapp_template.language"]}
              >
                {(control) => (
                  <input
                    {...control}
                    className="input"
                    value={values.templateLanguage}
                    maxLength={15}
                    autoComplete="off"
                    placeholder="en_US"
                    onChange={(e) => set("templateLanguage", e.target.value)}
                  />
                )}
              </Field>
              <Field
                id={ids["whatsapp_template.body_params"]!}
                label="Body parameters"
                optional
                error={errors["whatsapp_template.body_params"]}
                hint={
                  <>
                    One per line, in order: the first fills <code>{"{{1}}"}</code>, the next{" "}
                    <code>{"{{2}}"}</code>. Placeholders work as in the template, e.g. <code>{"{first_name}"}</code>.
                  </>
                }
              >
                {(control) => (
                  <textarea
                    {...control}
                    className="input input--short"
                    rows={3}
                    value={values.templateParams}
                    onChange={(e) => set("templateParams", e.target.value)}
                  />
                )}
              </Field>
              <Field
                id={ids["whatsapp_template.content_sid"]!}
                label="Twilio Content SID"
                optional
                error={errors["whatsapp_template.content_sid"]}
                hint="Only when WhatsApp goes through Twilio: the approved template's SID (HX…), sent instead of the text."
              >
                {(control) => (
                  <input
                    {...control}
                    className="input"
                    value={values.templateContentSid}
                    maxLength={34}
                    autoComplete="off"
                    spellCheck={false}
                    placeholder="HX…"
                    onChange={(e) => set("templateContentSid", e.target.value)}
                  />
                )}
              </Field>
            </div>
          )}
        </fieldset>
      )}
    </>
  );
}

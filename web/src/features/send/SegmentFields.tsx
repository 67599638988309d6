import { preventSubmitOnEnter } from "../../lib/preventSubmitOnEnter";
import { segmentFrom, type SegmentDraft } from "./segment";

interface Props {
  idPrefix: string;
  value: SegmentDraft;
  onChange: (value: SegmentDraft) => void;
  errors?: { location?: string; preferred_product?: string; segment?: string };
}

/** Every customer, or a location and/or a preferred product (matched ignoring case). */
export function SegmentFields({ idPrefix, value, onChange, errors = {} }: Props) {
  const matchingEmpty = !value.everyone && segmentFrom(value) === null;
  return (
    <fieldset className="choice segment">
      <legend className="visually-hidden">Segment</legend>
      <label className="choice__option">
        <input
          type="radio"
          name={`${idPrefix}-segment-kind`}
          checked={value.everyone}
          onChange={() => onChange({ ...value, everyone: true })}
        />
        Every customer
      </label>
      <label className="choice__option">
        <input
          type="radio"
          name={`${idPrefix}-segment-kind`}
          checked={!value.everyone}
          onChange={() => onChange({ ...value, everyone: false })}
        />
        Customers matching…
      </label>
      {!value.everyone && (
        <div className="segment__fields">
          <div className={`field${errors.location ? " field--invalid" : ""}`}>
            <label className="field__label" htmlFor={`${idPrefix}-segment-location`}>
              Location
            </label>
            {errors.location && <p className="field__error">{errors.location}</p>}
            <input
              id={`${idPrefix}-segment-location`}
              className="input"
              value={value.location}
              maxLength={200}
              autoComplete="off"
              onKeyDown={preventSubmitOnEnter}
              onChange={(e) => onChange({ ...value, location: e.target.value })}
            />
          </div>
          <div className={`field${errors.preferred_product ? " field--invalid" : ""}`}>
            <label className="field__label" htmlFor={`${idPrefix}-segment-product`}>
              Preferred product
            </label>
            {errors.preferred_product && <p className="field__error">{errors.preferred_product}</p>}
            <input
              id={`${idPrefix}-segment-product`}
              className="input"
              value={value.preferredProduct}
              maxLength={200}
              autoComplete="off"
              onKeyDown={preventSubmitOnEnter}
              onChange={(e) => onChange({ ...value, preferredProduct: e.target.value })}
            />
          </div>
          <p className="field__hint segment__hint">
            {matchingEmpty
              ? "Fill in a location, a preferred product, or both."
              : "Customers matching every field given, ignoring case. Opted-out customers are left out."}
          </p>
        </div>
      )}
      {errors.segment && <p className="field__error">{errors.segment}</p>}
    </fieldset>
  );
}

import { useState, type FormEvent } from "react";
import { errorMessage } from "../../api/client";
import type { Customer } from "../../api/models";
import { useCreateCustomer, type CustomerCreate } from "../../api/queries";
import { Field } from "../../components/Field";
import { fieldErrorsFrom, type FieldErrors } from "../../lib/fieldErrors";
import { customerName } from "./customerName";

const FIELDS = ["phone", "first_name", "last_name", "location", "preferred_product", "timezone"] as const;
type FieldName = (typeof FIELDS)[number];
type Values = Record<FieldName, string>;

const EMPTY: Values = {
  phone: "",
  first_name: "",
  last_name: "",
  location: "",
  preferred_product: "",
  timezone: "",
};

/** Label and length limit of each field, as CustomerCreate has them. */
const FIELD_SPECS: Record<FieldName, { label: string; maxLength: number }> = {
  phone: { label: "Phone", maxLength: 32 },
  first_name: { label: "First name", maxLength: 100 },
  last_name: { label: "Last name", maxLength: 100 },
  location: { label: "Location", maxLength: 200 },
  preferred_product: { label: "Preferred product", maxLength: 200 },
  timezone: { label: "Time zone", maxLength: 64 },
};

const HINTS: Partial<Record<FieldName, string>> = {
  phone: "With the country code, e.g. +254712345678",
  timezone: "An IANA name, e.g. Africa/Nairobi. Empty: the zone of their number's area. Send windows use it.",
};

const controlId = (field: FieldName) => `customer-${field.replaceAll("_", "-")}`;

function toBody(values: Values): CustomerCreate {
  const body: CustomerCreate = { phone: values.phone.trim() };
  for (const field of FIELDS) {
    const value = values[field].trim();
    if (field !== "phone" && value) body[field] = value;
  }
  return body;
}

interface Props {
  onCreated: (customer: Customer) => void;
  onCancel: () => void;
}

/** POST /customers. The API checks the phone's format; here only that there is one. */
export function CustomerForm({ onCreated, onCancel }: Props) {
  const create = useCreateCustomer();
  const [values, setValues] = useState<Values>(EMPTY);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [added, setAdded] = useState<Customer | null>(null);

  function change(field: FieldName, value: string) {
    setValues((v) => ({ ...v, [field]: value }));
    if (errors[field]) setErrors(({ [field]: _removed, ...rest }) => rest);
  }

  function focusFirstError(found: FieldErrors) {
    const first = FIELDS.find((f) => found[f]);
    if (first) document.getElementById(controlId(first))?.focus();
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    setFormError(null);
    setAdded(null);
    if (!values.phone.trim()) {
      const clientErrors = { phone: "Enter the customer's phone number." };
      setErrors(clientErrors);
      focusFirstError(clientErrors);
      return;
    }
    setErrors({});
    create.mutate(toBody(values), {
      onSuccess: (customer) => {
        setValues(EMPTY);
        setAdded(customer);
        document.getElementById(controlId("phone"))?.focus();
        onCreated(customer);
      },
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
    <form className="customer-form" onSubmit={onSubmit} noValidate aria-labelledby="customer-form-title">
      <h2 id="customer-form-title">Add a customer</h2>
      {formError && (
        <div className="form__alert" role="alert">
          {formError}
        </div>
      )}
      {added && (
        <p className="form__notice" role="status">
          Added {customerName(added)} ({added.phone}).
        </p>
      )}
      <div className="customer-form__grid">
        {FIELDS.map((field) => {
          const spec = FIELD_SPECS[field];
          return (
            <Field
              key={field}
              id={controlId(field)}
              label={spec.label}
              optional={field !== "phone"}
              error={errors[field]}
              hint={HINTS[field]}
            >
              {(control) => (
                <input
                  {...control}
                  className="input"
                  type={field === "phone" ? "tel" : "text"}
                  inputMode={field === "phone" ? "tel" : undefined}
                  value={values[field]}
                  maxLength={spec.maxLength}
                  autoComplete="off"
                  placeholder={field === "timezone" ? "Africa/Nairobi" : undefined}
                  onChange={(e) => change(field, e.target.value)}
                />
              )}
            </Field>
          );
        })}
      </div>
      <div className="form__actions">
        <button type="button" className="button button--ghost" onClick={onCancel}>
          Close
        </button>
        <button type="submit" className="button button--primary" disabled={create.isPending}>
          {create.isPending ? "Adding…" : "Add customer"}
        </button>
      </div>
    </form>
  );
}

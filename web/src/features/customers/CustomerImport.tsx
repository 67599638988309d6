import { useRef, useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../../api/client";
import { useImportCustomers, type CustomerImportResult } from "../../api/queries";
import { Field } from "../../components/Field";
import { formatNumber, pluralize } from "../../lib/format";

const COLUMNS = ["phone", "first_name", "last_name", "location", "preferred_product"] as const;
const INPUT_ID = "customer-import-file";

interface Props {
  onImported: (result: CustomerImportResult) => void;
  onCancel: () => void;
}

/** POST /customers/import: one CSV file; the answer counts rows and lists the bad ones. */
export function CustomerImport({ onImported, onCancel }: Props) {
  const importer = useImportCustomers();
  const inputRef = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [choiceError, setChoiceError] = useState<string | undefined>();
  const [imported, setImported] = useState<{ fileName: string; result: CustomerImportResult } | null>(null);

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (!file) {
      setChoiceError("Choose a CSV file to import.");
      inputRef.current?.focus();
      return;
    }
    setImported(null);
    importer.mutate(file, {
      onSuccess: (result) => {
        setImported({ fileName: file.name, result });
        // Cleared so that picking the same file again, once fixed, counts as a change.
        setFile(null);
        if (inputRef.current) inputRef.current.value = "";
        onImported(result);
      },
    });
  }

  return (
    <form className="customer-import" onSubmit={onSubmit} noValidate aria-labelledby="customer-import-title">
      <h2 id="customer-import-title">Import customers from CSV</h2>
      {importer.isError && <ImportFailure error={importer.error} />}
      <Field
        id={INPUT_ID}
        label="CSV file"
        error={choiceError}
        hint={
          <>
            A header row, then one customer a row. Columns:{" "}
            {COLUMNS.map((c, i) => (
              <span key={c}>
                {i > 0 && ", "}
                <code>{c}</code>
                {c === "phone" && " (required)"}
              </span>
            ))}
            . Rows whose phone is already a customer are skipped.
          </>
        }
      >
        {(control) => (
          <input
            {...control}
            ref={inputRef}
            className="input input--file"
            type="file"
            accept=".csv,text/csv"
            disabled={importer.isPending}
            onChange={(e) => {
              setFile(e.target.files?.[0] ?? null);
              setChoiceError(undefined);
              importer.reset();
            }}
          />
        )}
      </Field>
      <div className="form__actions">
        <button type="button" className="button button--ghost" onClick={onCancel}>
          Close
        </button>
        <button type="submit" className="button button--primary" disabled={importer.isPending}>
          {importer.isPending ? "Importing…" : "Import"}
        </button>
      </div>
      {imported && <ImportReport fileName={imported.fileName} result={imported.result} />}
    </form>
  );
}

/** The file as a whole was refused (no phone column, unknown columns, not UTF-8, too large). */
function ImportFailure({ error }: { error: unknown }) {
  const details = error instanceof ApiError ? error.details.map((d) => d.message) : [];
  return (
    <div className="form__alert" role="alert">
      <p>Nothing was imported: {errorMessage(error)}</p>
      {details.length > 0 && (
        <ul className="form__alert-list">
          {details.map((message, i) => (
            <li key={i}>{message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function ImportReport({ fileName, result }: { fileName: string; result: CustomerImportResult }) {
  const bad = result.errors.length + result.errors_not_shown;
  const summary = [
    `${pluralize(result.created, "customer")} created`,
    `${formatNumber(result.skipped)} skipped`,
    `${pluralize(bad, "row")} with errors`,
  ].join(", ");
  return (
    <section className="import-report" aria-labelledby="import-report-title">
      <h3 id="import-report-title" className="import-report__title">
        Results for “{fileName}”
      </h3>
      <p className="visually-hidden" role="status">
        {summary}.
      </p>
      <dl className="import-report__counts">
        <div className="stat stat--sent">
          <dt>Created</dt>
          <dd data-testid="import-created">{formatNumber(result.created)}</dd>
        </div>
        <div className="stat">
          <dt>Skipped</dt>
          <dd data-testid="import-skipped">{formatNumber(result.skipped)}</dd>
        </div>
        <div className={bad ? "stat stat--failed" : "stat"}>
          <dt>Rows with errors</dt>
          <dd data-testid="import-bad">{formatNumber(bad)}</dd>
        </div>
      </dl>
      {result.skipped > 0 && (
        <p className="import-report__note">
          Skipped rows have a phone that is already a customer (or appears earlier in the file).
        </p>
      )}
      {bad > 0 && (
        <>
          <p className="import-report__note">
            These rows were not imported. Fix them and import the file again: the rows already imported will be
            skipped. Row numbers are the file&apos;s lines, the header being row 1.
          </p>
          <div className="import-errors">
            <table className="table import-errors__table">
              <caption className="visually-hidden">Rows that could not be imported</caption>
              <thead>
                <tr>
                  <th scope="col" className="num">
                    Row
                  </th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {result.errors.map((e) => (
                  <tr key={e.row}>
                    <td className="num">{e.row}</td>
                    <td className="table__error">{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {result.errors_not_shown > 0 && (
            <p className="import-report__note">
              …and {pluralize(result.errors_not_shown, "more row")} with errors, not listed: the first{" "}
              {formatNumber(result.errors.length)} are shown.
            </p>
          )}
        </>
      )}
    </section>
  );
}

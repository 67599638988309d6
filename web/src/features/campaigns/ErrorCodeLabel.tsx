import { failureCodeLabel } from "../../lib/format";

/** A failure code in words ("Customer opted out"), the code itself beside it for searching logs. */
export function ErrorCodeLabel({ code }: { code: string }) {
  const label = failureCodeLabel(code);
  return (
    <span className="error-code">
      {label !== code && <span className="error-code__label">{label} </span>}
      <code>{code}</code>
    </span>
  );
}

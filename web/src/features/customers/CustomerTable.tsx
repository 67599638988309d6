import type { Customer } from "../../api/models";
import { formatDateTime } from "../../lib/format";
import { customerName } from "./customerName";

function Optional({ value }: { value: string | null }) {
  return value ? <>{value}</> : <span className="muted">—</span>;
}

export function CustomerTable({ customers, busy }: { customers: Customer[]; busy: boolean }) {
  return (
    <table className="table table--stack" aria-busy={busy || undefined}>
      <caption className="visually-hidden">Customers</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Phone</th>
          <th scope="col">Location</th>
          <th scope="col">Preferred product</th>
          <th scope="col">Added</th>
        </tr>
      </thead>
      <tbody>
        {customers.map((c) => (
          <tr key={c.id}>
            <td data-label="Name" className="table__primary">
              <span className="customer-name">{customerName(c)}</span>
            </td>
            <td data-label="Phone" className="customer-phone">
              {c.phone}
            </td>
            <td data-label="Location" className={c.location ? undefined : "hide-on-stack"}>
              <Optional value={c.location} />
            </td>
            <td data-label="Preferred product" className={c.preferred_product ? undefined : "hide-on-stack"}>
              <Optional value={c.preferred_product} />
            </td>
            <td data-label="Added">
              <time dateTime={c.created_at}>{formatDateTime(c.created_at)}</time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

import type { Customer } from "../../api/models";
import { formatDateTime } from "../../lib/format";
import { ConsentAction, ConsentBadge } from "./consent";
import { customerName } from "./customerName";

function Optional({ value }: { value: string | null }) {
  return value ? <>{value}</> : <span className="muted">—</span>;
}

interface Props {
  customers: Customer[];
  busy: boolean;
  /** Open the customer's details and consent history. */
  onOpen: (id: number) => void;
}

export function CustomerTable({ customers, busy, onOpen }: Props) {
  return (
    <table className="table table--stack" aria-busy={busy || undefined}>
      <caption className="visually-hidden">Customers</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Phone</th>
          <th scope="col">Location</th>
          <th scope="col">Preferred product</th>
          <th scope="col">Time zone</th>
          <th scope="col">Consent</th>
          <th scope="col">Added</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {customers.map((c) => (
          <tr key={c.id}>
            <td data-label="Name" className="table__primary">
              <button
                type="button"
                className="link-button customer-name"
                aria-label={`${customerName(c)}: details and consent history`}
                onClick={() => onOpen(c.id)}
              >
                {customerName(c)}
              </button>
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
            <td data-label="Time zone" className={c.timezone ? undefined : "hide-on-stack"}>
              <Optional value={c.timezone} />
            </td>
            <td data-label="Consent">
              <ConsentBadge customer={c} />
            </td>
            <td data-label="Added">
              <time dateTime={c.created_at}>{formatDateTime(c.created_at)}</time>
            </td>
            <td data-label="Actions">
              <ConsentAction customer={c} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

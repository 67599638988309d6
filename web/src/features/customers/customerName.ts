import type { Customer } from "../../api/models";

export function customerName(c: Customer): string {
  const name = [c.first_name, c.last_name].filter(Boolean).join(" ");
  return name || `Customer #${c.id}`;
}

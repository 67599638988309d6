import { Link } from "react-router";
import { EmptyState } from "../components/states";

export function NotFoundPage() {
  return (
    <EmptyState title="Page not found">
      <Link to="/">Back to campaigns</Link>
    </EmptyState>
  );
}

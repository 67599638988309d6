import type { ReactNode } from "react";
import { ApiError, errorMessage } from "../api/client";

export function ErrorState({
  error,
  onRetry,
  title,
  children,
}: {
  error: unknown;
  onRetry?: () => void;
  title?: string;
  children?: ReactNode;
}) {
  const network = error instanceof ApiError && error.isUnreachable;
  const needsKey = error instanceof ApiError && error.status === 401;
  const heading =
    title ?? (network ? "The API is unreachable" : needsKey ? "An API key is needed" : "Something went wrong");
  return (
    <div className="state state--error" role="alert">
      <p className="state__title">{heading}</p>
      <p className="state__body">{needsKey ? "Enter your API key above, then try again." : errorMessage(error)}</p>
      {onRetry && (
        <button type="button" className="button" onClick={onRetry}>
          Try again
        </button>
      )}
      {children}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state--empty">
      <p className="state__title">{title}</p>
      {children && <div className="state__body">{children}</div>}
    </div>
  );
}

export function SkeletonRows({ rows = 5, label = "Loading" }: { rows?: number; label?: string }) {
  return (
    <div className="skeleton" role="status" aria-live="polite">
      <span className="visually-hidden">{label}…</span>
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="skeleton__row" aria-hidden="true" />
      ))}
    </div>
  );
}

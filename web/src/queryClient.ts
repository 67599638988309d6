import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "./api/client";

/** Retry only what may heal by itself: network failures and 5xx. */
function shouldRetry(failureCount: number, error: unknown): boolean {
  if (error instanceof ApiError && (error.isUnreachable || error.status >= 500)) {
    return failureCount < 2;
  }
  return false;
}

export function createQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: shouldRetry, staleTime: 5_000 },
      mutations: { retry: false },
    },
  });
}

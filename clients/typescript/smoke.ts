// A mini-program's calls written against the generated types: if the document stops saying
// what the service does (a path, a body, an error code), this no longer type-checks.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated";

type ErrorCode = components["schemas"]["ErrorBody"]["code"];

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8080" });

export async function startApplication(token: string, deliveryId: string, healthCardId: string): Promise<string> {
  const { data, error } = await client.POST("/api/v1/applications", {
    headers: { Authorization: `Bearer ${token}`, "Idempotency-Key": "first-try" },
    body: { delivery_id: deliveryId, health_card_id: healthCardId, claimant_relation: "mother" },
  });
  if (error) {
    const code: ErrorCode = error.code;
    throw new Error(code === "application_exists" ? "已有办理中的申请" : error.message);
  }
  return data.id;
}

export function retryable(code: ErrorCode): boolean {
  return code === "concurrent_change" || code === "store_unavailable" || code === "rate_limited";
}

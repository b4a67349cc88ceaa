// The platform's read path: list the tenant's videos, then fetch each one listed.
// Env: BASE_URL, API_KEY, VUS, DURATION or RATE, SUMMARY (written by handleSummary).
import http from "k6/http";
import { check } from "k6";

const rate = Number(__ENV.RATE || 0);
export const options = {
  discardResponseBodies: false,
  summaryTrendStats: ["avg", "med", "p(90)", "p(95)", "p(99)", "max"],
  scenarios: rate > 0
    ? { read: { executor: "constant-arrival-rate", rate, timeUnit: "1s", duration: __ENV.DURATION || "10s",
                preAllocatedVUs: Number(__ENV.VUS || 10), maxVUs: Number(__ENV.VUS || 10) * 4 } }
    : { read: { executor: "constant-vus", vus: Number(__ENV.VUS || 10), duration: __ENV.DURATION || "10s" } },
  thresholds: JSON.parse(__ENV.THRESHOLDS || "{}"),
};

const params = { headers: { Authorization: `Bearer ${__ENV.API_KEY}` }, tags: { name: "list" } };

export default function () {
  const list = http.get(`${__ENV.BASE_URL}/v1/videos?limit=5`, params);
  check(list, { "list is 200": (r) => r.status === 200 });
  if (list.status !== 200) return;
  for (const video of list.json("items") || []) {
    const one = http.get(`${__ENV.BASE_URL}${video.url}`, { headers: params.headers, tags: { name: "get" } });
    check(one, { "get is 200": (r) => r.status === 200 });
  }
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}

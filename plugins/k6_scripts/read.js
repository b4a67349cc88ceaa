// The platform's read path: list the tenant's videos, then fetch each one listed.
// Env: BASE_URL, API_KEY, VUS, DURATION or RATE, THRESHOLDS, SUMMARY (written by handleSummary).
import http from "k6/http";
import { check } from "k6";
import { options as shared, summary } from "./options.js";

export const options = shared("read", 10);

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

export const handleSummary = summary;

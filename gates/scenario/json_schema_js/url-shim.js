// reelgate's: a `URL` just large enough for @cfworker/json-schema on k6, which has no `URL`. It knows
// absolute URLs and references inside one document (`#/$defs/video`); `reelgate scenario check` refuses a
// schema with any other `$ref` or an `$id`, so nothing else reaches it.
class ShimURL {
  constructor(reference, base) {
    reference = String(reference);
    if (/^[a-z][a-z0-9+.-]*:/i.test(reference)) {
      this._set(reference);
    } else if (reference.startsWith("#") && base !== undefined) {
      this._set(String(base).split("#")[0] + reference);
    } else {
      throw new TypeError(`unsupported URL reference: ${reference}`);
    }
  }
  _set(whole) {
    const at = whole.indexOf("#");
    this._base = at < 0 ? whole : whole.slice(0, at);
    this._fragment = at < 0 ? "" : whole.slice(at + 1);
  }
  get hash() {
    return this._fragment ? `#${this._fragment}` : "";
  }
  set hash(value) {
    value = String(value);
    this._fragment = value.startsWith("#") ? value.slice(1) : value;
  }
  get href() {
    return this._base + this.hash;
  }
  toString() {
    return this.href;
  }
}
if (typeof globalThis.URL === "undefined") globalThis.URL = ShimURL;

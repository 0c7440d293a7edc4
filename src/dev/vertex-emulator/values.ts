/**
 * google.protobuf.Value as @grpc/proto-loader hands it over and takes it back
 * (Predict's instances, parameters and predictions are Values).
 */
export interface WireValue {
  kind?: string;
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, WireValue> } | null;
  listValue?: { values?: WireValue[] } | null;
}

/** The plain value a Value holds (a struct becomes an object, a list an array). */
export function fromWireValue(value: WireValue | null | undefined): unknown {
  if (!value) return undefined;
  switch (value.kind) {
    case "nullValue":
      return null;
    case "numberValue":
      return value.numberValue;
    case "stringValue":
      return value.stringValue;
    case "boolValue":
      return value.boolValue;
    case "structValue":
      return Object.fromEntries(Object.entries(value.structValue?.fields ?? {}).map(([key, field]) => [key, fromWireValue(field)]));
    case "listValue":
      return (value.listValue?.values ?? []).map(fromWireValue);
    default:
      return undefined;
  }
}

/** A plain value (JSON-like) as a Value. */
export function toWireValue(value: unknown): WireValue {
  if (value === null || value === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof value === "number") return { numberValue: value };
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return { listValue: { values: Array.from(value as ArrayLike<unknown>, toWireValue) } };
  return { structValue: { fields: Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, field]) => [key, toWireValue(field)])) } };
}

/** Validates a results document against `schema/results.schema.json` (ajv, JSON Schema 2020-12). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";

const schema = JSON.parse(
  readFileSync(new URL("../../../schema/results.schema.json", import.meta.url), "utf8"),
);
const validate = new Ajv2020.default({ allErrors: true, strict: true }).compile(schema);

export function assertValidReport(report: unknown): void {
  const ok = validate(report);
  assert.ok(
    ok,
    `results document does not match the schema: ${JSON.stringify(validate.errors, null, 2)}`,
  );
}

/**
 * Maps every failure onto the error catalogue: `{ error: { code, message, ...safe } }`.
 * Schema errors name the field; unknown errors become INTERNAL without details.
 */
import type { FastifyError, FastifyInstance } from "fastify";
import { VaultError } from "../errors/index.js";
import { isStorageFailure } from "../store/db.js";
import { StoreConflict, StoreUnavailable } from "../store/sql/types.js";

type SchemaError = NonNullable<FastifyError["validation"]>[number];

/** The error to report: an anyOf's own error (its path and description) over its branches'. */
function primaryError(all: SchemaError[]): SchemaError | undefined {
  return all.find((v) => v.keyword === "anyOf") ?? all[0];
}

function fieldOf(v: SchemaError | undefined): string | undefined {
  if (!v) return undefined;
  const path = v.instancePath.replace(/^\//, "").replaceAll("/", ".");
  const { missingProperty, additionalProperty } = v.params;
  const named = [missingProperty, additionalProperty].find((p) => typeof p === "string");
  return [path, named].filter(Boolean).join(".") || undefined;
}

/** The failing schema's description: ajv adds `parentSchema` because of `verbose: true`. */
function descriptionOf(v: SchemaError | undefined): unknown {
  const parent = v && "parentSchema" in v ? v.parentSchema : undefined;
  return typeof parent === "object" && parent !== null && "description" in parent
    ? parent.description
    : undefined;
}

/** "must be <the schema's description>" when the schema has one, else ajv's message. */
function messageOf(v: SchemaError | undefined): string {
  const description = descriptionOf(v);
  const about = v?.keyword !== "required" && v?.keyword !== "additionalProperties";
  if (typeof description === "string" && about) return `must be ${description}`;
  return v?.message ?? "is invalid";
}

export function toVaultError(err: unknown): VaultError {
  if (err instanceof VaultError) return err;
  if (isStorageFailure(err) || err instanceof StoreUnavailable) {
    return new VaultError("STORE_UNAVAILABLE");
  }
  if (err instanceof StoreConflict) return new VaultError("CONFLICT");
  // Whatever is thrown that is not an Error (a string, null) is a bug: INTERNAL, not a crash.
  if (!(err instanceof Error)) return new VaultError("INTERNAL");
  // Fastify's errors are Errors with these optional fields; any other Error lacks them.
  const f: Partial<FastifyError> = err;
  if (f.validation) {
    const v = primaryError(f.validation);
    const field = fieldOf(v);
    const where = f.validationContext ?? "body";
    return new VaultError(
      "VALIDATION_FAILED",
      `${where}${field ? `.${field}` : ""} ${messageOf(v)}`,
      {
        field: field ?? where,
      },
    );
  }
  if (f.code === "FST_ERR_CTP_BODY_TOO_LARGE") return new VaultError("BODY_TOO_LARGE");
  if (f.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
    return new VaultError("BAD_REQUEST", "Content-Type must be application/json.");
  if (f.statusCode === 400)
    return new VaultError("BAD_REQUEST", "The request body is not valid JSON.");
  return new VaultError("INTERNAL");
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const ve = toVaultError(err);
    if (ve.code === "INTERNAL") req.log.error({ err }, "internal error");
    void reply.status(ve.status).send(ve.toJSON());
  });
  app.setNotFoundHandler((_req, reply) => {
    const ve = new VaultError("NOT_FOUND");
    void reply.status(ve.status).send(ve.toJSON());
  });
}

/**
 * Maps every failure onto the error catalogue: `{ error: { code, message, ...safe } }`.
 * Schema errors name the field; unknown errors become INTERNAL without details.
 */
import type { FastifyError, FastifyInstance } from "fastify";
import { VaultError } from "../errors/index.js";
import { isStorageFailure } from "../store/db.js";

type SchemaError = NonNullable<FastifyError["validation"]>[number] & {
  parentSchema?: { description?: unknown };
};

/** The error to report: an anyOf's own error (its path and description) over its branches'. */
function primaryError(err: FastifyError): SchemaError | undefined {
  const all = (err.validation ?? []) as SchemaError[];
  return all.find((v) => v.keyword === "anyOf") ?? all[0];
}

function fieldOf(v: SchemaError | undefined): string | undefined {
  if (!v) return undefined;
  const path = v.instancePath.replace(/^\//, "").replaceAll("/", ".");
  const missing = (v.params as { missingProperty?: string }).missingProperty;
  const extra = (v.params as { additionalProperty?: string }).additionalProperty;
  return [path, missing ?? extra].filter(Boolean).join(".") || undefined;
}

/** "must be <the schema's description>" when the schema has one, else ajv's message. */
function messageOf(v: SchemaError | undefined): string {
  const description = v?.parentSchema?.description;
  const about = v?.keyword !== "required" && v?.keyword !== "additionalProperties";
  if (typeof description === "string" && about) return `must be ${description}`;
  return v?.message ?? "is invalid";
}

export function toVaultError(err: FastifyError | Error): VaultError {
  if (err instanceof VaultError) return err;
  if (isStorageFailure(err)) return new VaultError("STORE_UNAVAILABLE");
  const f = err as FastifyError;
  if (f.validation) {
    const v = primaryError(f);
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
    const ve = toVaultError(err as FastifyError);
    if (ve.code === "INTERNAL") req.log.error({ err }, "internal error");
    void reply.status(ve.status).send(ve.toJSON());
  });
  app.setNotFoundHandler((_req, reply) => {
    const ve = new VaultError("NOT_FOUND");
    void reply.status(ve.status).send(ve.toJSON());
  });
}

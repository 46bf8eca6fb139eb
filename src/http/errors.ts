/**
 * Maps every failure onto the error catalogue: `{ error: { code, message, ...safe } }`.
 * Schema errors name the field; unknown errors become INTERNAL without details.
 */
import type { FastifyError, FastifyInstance } from "fastify";
import { VaultError } from "../errors/index.js";
import { isStorageFailure } from "../store/db.js";

function fieldOf(err: FastifyError): string | undefined {
  const v = err.validation?.[0];
  if (!v) return undefined;
  const path = v.instancePath.replace(/^\//, "").replaceAll("/", ".");
  const missing = (v.params as { missingProperty?: string }).missingProperty;
  const extra = (v.params as { additionalProperty?: string }).additionalProperty;
  return [path, missing ?? extra].filter(Boolean).join(".") || undefined;
}

export function toVaultError(err: FastifyError | Error): VaultError {
  if (err instanceof VaultError) return err;
  if (isStorageFailure(err)) return new VaultError("STORE_UNAVAILABLE");
  const f = err as FastifyError;
  if (f.validation) {
    const field = fieldOf(f);
    const where = f.validationContext ?? "body";
    return new VaultError(
      "VALIDATION_FAILED",
      `${where}${field ? `.${field}` : ""} ${f.validation[0]?.message ?? "is invalid"}`,
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

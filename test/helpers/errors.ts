/** The catalogue code a promise rejects with, or "accepted": table tests of refusals. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "accepted";
  } catch (err) {
    return (err as { code: string }).code;
  }
}

/**
 * Which model the app uses, chosen by environment variables (no code change):
 *
 * | variables | model |
 * |---|---|
 * | none | the offline stand-in (`STAND_IN_TOKENS_PER_SECOND` sets its pace) |
 * | `OPENAI_COMPATIBLE_BASE_URL`, `AI_MODEL` (+ `OPENAI_COMPATIBLE_API_KEY`) | any OpenAI-compatible endpoint: OpenAI, llama.cpp server, vLLM, LM Studio (`@ai-sdk/openai-compatible`) |
 * | `OLLAMA_BASE_URL` (e.g. `http://127.0.0.1:11434/api`), `AI_MODEL` | Ollama (`ollama-ai-provider-v2`) |
 *
 * A configured provider is checked at start (`assertProviderReachable`): one that does not
 * answer stops the start with a sentence naming it. It never falls back to the stand-in: any
 * provider variable set (even empty, or `AI_MODEL` without a URL) is a configuration error
 * unless it names a complete provider.
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { LanguageModelV3 } from "@ai-sdk/provider";
import { createOllama } from "ollama-ai-provider-v2";
import { StandInModel } from "./stand-in.js";

export interface ModelChoice {
  model: LanguageModelV3;
  /** Shown to users and in the start line. */
  label: string;
  /** A URL the start check asks (GET), for configured providers. */
  probeUrl?: string;
  probeHeaders?: Record<string, string>;
  /** Added to the start error when the probe answers 404 (the usual wrong-path mistake). */
  hint404?: string;
}

export class ModelConfigError extends Error {}

/** Variables that mean a real provider was asked for: with any set, never the stand-in. */
const PROVIDER_VARIABLES = [
  "OPENAI_COMPATIBLE_BASE_URL",
  "OLLAMA_BASE_URL",
  "AI_MODEL",
  "OPENAI_COMPATIBLE_API_KEY",
] as const;

export function chooseModel(env: NodeJS.ProcessEnv = process.env): ModelChoice {
  const modelId = env.AI_MODEL;
  // Set but empty (`OLLAMA_BASE_URL=` in a .env file) is a configuration, not its absence.
  for (const name of ["OPENAI_COMPATIBLE_BASE_URL", "OLLAMA_BASE_URL", "AI_MODEL"] as const) {
    if (env[name] !== undefined && env[name].trim() === "") {
      throw new ModelConfigError(
        `${name} is set but empty: give it a value, or unset it (with no provider variable set, the offline stand-in is used).`,
      );
    }
  }
  if (env.OPENAI_COMPATIBLE_BASE_URL && env.OLLAMA_BASE_URL) {
    throw new ModelConfigError(
      "both OPENAI_COMPATIBLE_BASE_URL and OLLAMA_BASE_URL are set: keep the one you mean.",
    );
  }
  if (env.OPENAI_COMPATIBLE_BASE_URL) {
    if (!modelId)
      throw new ModelConfigError(
        "OPENAI_COMPATIBLE_BASE_URL is set but AI_MODEL is not: name the model to use.",
      );
    const baseURL = env.OPENAI_COMPATIBLE_BASE_URL.replace(/\/+$/, "");
    const apiKey = env.OPENAI_COMPATIBLE_API_KEY;
    const provider = createOpenAICompatible({ name: "openai-compatible", baseURL, apiKey });
    return {
      model: provider.chatModel(modelId),
      label: `${modelId} at ${baseURL}`,
      probeUrl: `${baseURL}/models`,
      probeHeaders: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      hint404: "The base URL usually ends in /v1 (e.g. http://127.0.0.1:8080/v1).",
    };
  }
  if (env.OLLAMA_BASE_URL) {
    if (!modelId)
      throw new ModelConfigError(
        "OLLAMA_BASE_URL is set but AI_MODEL is not: name the model to use.",
      );
    const baseURL = env.OLLAMA_BASE_URL.replace(/\/+$/, "");
    const ollama = createOllama({ baseURL });
    return {
      model: ollama(modelId),
      label: `${modelId} on Ollama at ${baseURL}`,
      probeUrl: `${baseURL}/tags`,
      hint404: /\/api$/.test(baseURL)
        ? "Is this Ollama's address?"
        : "Ollama's API is under /api: OLLAMA_BASE_URL=http://host:11434/api.",
    };
  }
  const stray = PROVIDER_VARIABLES.filter((name) => env[name]);
  if (stray.length > 0) {
    throw new ModelConfigError(
      `${stray.join(" and ")} ${stray.length > 1 ? "are" : "is"} set without a provider URL: set OPENAI_COMPATIBLE_BASE_URL or OLLAMA_BASE_URL too (the offline stand-in is used only when no provider variable is set).`,
    );
  }
  const tps = env.STAND_IN_TOKENS_PER_SECOND ? Number(env.STAND_IN_TOKENS_PER_SECOND) : undefined;
  if (tps !== undefined && !(Number.isFinite(tps) && tps >= 0)) {
    throw new ModelConfigError("STAND_IN_TOKENS_PER_SECOND must be a number ≥ 0 (0: no pause).");
  }
  return {
    model: new StandInModel({ tokensPerSecond: tps }),
    label: "offline stand-in model (not a real language model)",
  };
}

/** Fails with a sentence if a configured provider does not answer within `timeoutMs`. */
export async function assertProviderReachable(
  choice: ModelChoice,
  timeoutMs = 5000,
): Promise<void> {
  if (!choice.probeUrl) return;
  let res: Response;
  try {
    res = await fetch(choice.probeUrl, {
      headers: choice.probeHeaders,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const why =
      (err as Error).name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : ((err as { cause?: Error }).cause?.message ?? (err as Error).message);
    throw new ModelConfigError(
      `the model provider ${choice.label} cannot be reached (${why}). Start it, fix the URL, or unset the provider variables to use the offline stand-in.`,
    );
  }
  await res.body?.cancel();
  if (res.status === 401 || res.status === 403) {
    throw new ModelConfigError(
      `the model provider ${choice.label} refused the API key (HTTP ${res.status}).`,
    );
  }
  if (!res.ok) {
    throw new ModelConfigError(
      `the model provider ${choice.label} answered HTTP ${res.status} to ${choice.probeUrl}.${res.status === 404 && choice.hint404 ? ` ${choice.hint404}` : ""}`,
    );
  }
}

// The models this server can run, by id `provider:model`, and the AI SDK model behind each id.
// builtin:echo is always there; OpenAI, Anthropic and an OpenAI-compatible endpoint when configured.
// A provider's package is loaded when one of its models is first used: where replies are read on provider
// threads, the main thread never loads one.
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { ConfigError, MIN_VENDOR_EVENT_BYTES, type ModelsConfig } from '../config.ts';
import { createEchoModel } from './echo.ts';
import { boundedFetch } from './bounded-fetch.ts';

export type ModelInfo = { id: string; provider: string; name: string; isDefault: boolean };

export const ECHO_MODEL_ID = 'builtin:echo';

export type ModelRegistry = {
  list(): ModelInfo[];
  has(id: string): boolean;
  defaultModelId: string;
  /** The AI SDK model for a listed id (throws for an unknown one: check with `has` first). */
  languageModel(id: string): Promise<LanguageModelV3>;
};

export function createModelRegistry(config: Omit<ModelsConfig, 'providerThreads'> = { echoDelayMs: 0, vendorEventMaxBytes: MIN_VENDOR_EVENT_BYTES }): ModelRegistry {
  const fetch = boundedFetch(config.vendorEventMaxBytes);
  const factories = new Map<string, () => Promise<LanguageModelV3>>();
  const echo = createEchoModel({ delayMs: config.echoDelayMs });
  factories.set(ECHO_MODEL_ID, async () => echo);

  if (config.openai) {
    const { apiKey, baseURL } = config.openai;
    const openai = once(async () => (await import('@ai-sdk/openai')).createOpenAI({ apiKey, baseURL, fetch }));
    // Chat Completions: the wire format OpenAI and most gateways in front of it share.
    for (const name of config.openai.models) factories.set(`openai:${name}`, async () => (await openai()).chat(name));
  }
  if (config.anthropic) {
    const { apiKey, baseURL } = config.anthropic;
    const anthropic = once(async () => (await import('@ai-sdk/anthropic')).createAnthropic({ apiKey, baseURL, fetch }));
    for (const name of config.anthropic.models) factories.set(`anthropic:${name}`, async () => (await anthropic())(name));
  }
  if (config.compatible) {
    const { name: provider, baseURL, apiKey, models } = config.compatible;
    const compatible = once(async () => (await import('@ai-sdk/openai-compatible')).createOpenAICompatible({ name: provider, baseURL: baseURL!, apiKey, includeUsage: true, fetch }));
    for (const name of models) factories.set(`${provider}:${name}`, async () => (await compatible()).chatModel(name));
  }

  const ids = [...factories.keys()];
  // With a real provider configured it is the default; echo stays the zero-configuration default.
  const defaultModelId = config.defaultModel ?? ids.find((id) => id !== ECHO_MODEL_ID) ?? ECHO_MODEL_ID;
  if (!factories.has(defaultModelId)) throw new ConfigError(`Invalid configuration: DEFAULT_MODEL: ${defaultModelId} is not a configured model (${ids.join(', ')})`);
  const models = ids.map((id) => {
    const [provider, ...rest] = id.split(':');
    return { id, provider, name: rest.join(':'), isDefault: id === defaultModelId };
  });
  const cache = new Map<string, Promise<LanguageModelV3>>();

  return {
    list: () => models,
    has: (id) => factories.has(id),
    defaultModelId,
    async languageModel(id) {
      const factory = factories.get(id);
      if (!factory) throw new Error(`Model ${id} is not configured`);
      let model = cache.get(id);
      if (!model) cache.set(id, (model = factory()));
      return model;
    },
  };
}

/** `load` run once, on first call; every call gets its result. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => (loaded ??= load());
}

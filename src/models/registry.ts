// The models this server can run, by id `provider:model`. `builtin:echo` is always there.
export type ModelInfo = { id: string; provider: string; name: string; isDefault: boolean };

export const ECHO_MODEL_ID = 'builtin:echo';

export type ModelRegistry = {
  list(): ModelInfo[];
  has(id: string): boolean;
  defaultModelId: string;
};

export function createModelRegistry(configured: { id: string; name?: string }[] = [], defaultModelId?: string): ModelRegistry {
  const ids = [ECHO_MODEL_ID, ...configured.map((m) => m.id).filter((id) => id !== ECHO_MODEL_ID)];
  const chosenDefault = defaultModelId ?? (configured[0]?.id ?? ECHO_MODEL_ID);
  if (!ids.includes(chosenDefault)) throw new Error(`The default model ${chosenDefault} is not configured`);
  const models = ids.map((id) => {
    const [provider, ...rest] = id.split(':');
    return { id, provider, name: rest.join(':'), isDefault: id === chosenDefault };
  });
  return {
    list: () => models,
    has: (id) => ids.includes(id),
    defaultModelId: chosenDefault,
  };
}

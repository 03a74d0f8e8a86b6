// The model of the chat, from the server's `models`.
type Model = { id: string; name: string; provider: string };

export function ModelPicker({ models, value, onChange }: { models: Model[]; value: string; onChange: (id: string) => void }) {
  return (
    <label className="model-picker">
      <span className="visually-hidden">Model</span>
      <select aria-label="Model" value={value} onChange={(e) => onChange(e.target.value)}>
        {models.map((model) => (
          <option key={model.id} value={model.id}>
            {model.name} ({model.provider})
          </option>
        ))}
      </select>
    </label>
  );
}

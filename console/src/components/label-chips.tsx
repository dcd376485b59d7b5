/** A run's labels as key=value chips; a click (when onPick is given) filters by that label. */
export function LabelChips({ labels, testId, onPick }: { labels: [string, string][]; testId?: string; onPick?(label: string): void }) {
  if (labels.length === 0) return null;
  return (
    <span className="labels" data-testid={testId}>
      {labels.map(([k, v]) => {
        const text = `${k}=${v}`;
        return onPick ? (
          <button key={k} type="button" className="label-chip" data-testid="label-chip" data-label={text} title={`only runs labelled ${text}`} onClick={() => onPick(text)}>
            {text}
          </button>
        ) : (
          <span key={k} className="label-chip" data-testid="label-chip" data-label={text}>
            {text}
          </span>
        );
      })}
    </span>
  );
}

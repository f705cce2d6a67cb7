/**
 * A table's header row, from its column titles.
 *
 * @packageDocumentation
 */

/** `<thead>` with one `<th>` per column title. */
export function TableHead({ columns }: { columns: readonly string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((title) => (
          <th key={title}>{title}</th>
        ))}
      </tr>
    </thead>
  );
}

/**
 * A table that renders only the rows in view (@tanstack/virtual-core), so 10,000 tasks scroll as
 * smoothly as ten. It stays a real <table>: spacer rows above and below stand in for the rows not drawn.
 * Rows are reachable by keyboard (each selectable row is a tab stop; Enter or Space selects it).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useReducer, useRef, useState } from 'preact/hooks';
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from '@tanstack/virtual-core';

export interface Column<T> {
  readonly title: string;
  readonly cell: (row: T) => ComponentChildren;
  readonly numeric?: boolean;
}

export interface TableProps<T> {
  readonly label: string;
  readonly rows: readonly T[];
  readonly columns: ReadonlyArray<Column<T>>;
  readonly rowKey: (row: T) => string;
  readonly onSelect?: (row: T) => void;
  readonly selected?: string | null;
  /** Above this many rows the table scrolls inside its own box and draws only what is in view. */
  readonly virtualAbove?: number;
}

const ROW_PX = 34;

function useVirtualizer(count: number, scroller: { current: HTMLDivElement | null }) {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const [virtualizer] = useState(
    () =>
      new Virtualizer<HTMLDivElement, HTMLTableRowElement>({
        count,
        getScrollElement: () => scroller.current,
        estimateSize: () => ROW_PX,
        overscan: 12,
        scrollToFn: elementScroll,
        observeElementRect,
        observeElementOffset,
        onChange: () => rerender(0),
      }),
  );
  virtualizer.setOptions({ ...virtualizer.options, count });
  useEffect(() => virtualizer._didMount(), [virtualizer]);
  useEffect(() => virtualizer._willUpdate());
  return virtualizer;
}

export function Table<T>(props: TableProps<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = props.rows.length > (props.virtualAbove ?? 200);
  const virtualizer = useVirtualizer(virtual ? props.rows.length : 0, scroller);
  const items = virtual ? virtualizer.getVirtualItems() : [];
  const visible = virtual ? items.map((item) => props.rows[item.index] as T) : props.rows;
  const top = virtual ? (items[0]?.start ?? 0) : 0;
  const bottom = virtual ? virtualizer.getTotalSize() - (items.at(-1)?.end ?? 0) : 0;
  const span = props.columns.length;
  return (
    <div class={virtual ? 'table-scroll' : 'table-box'} ref={scroller}>
      <table aria-label={props.label} aria-rowcount={props.rows.length + 1}>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th scope="col" class={column.numeric ? 'num' : undefined} key={column.title}>
                {column.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {top > 0 && (
            <tr aria-hidden="true" style={{ height: `${top}px` }}>
              <td colSpan={span} />
            </tr>
          )}
          {visible.map((row) => {
            const key = props.rowKey(row);
            const select = props.onSelect;
            return (
              <tr
                key={key}
                class={select ? 'selectable' : undefined}
                aria-selected={select ? props.selected === key : undefined}
                tabIndex={select ? 0 : undefined}
                onClick={select ? () => select(row) : undefined}
                onKeyDown={
                  select
                    ? (event) => {
                        if (event.key === 'Enter' || event.key === ' ') {
                          event.preventDefault();
                          select(row);
                        }
                      }
                    : undefined
                }
              >
                {props.columns.map((column) => (
                  <td class={column.numeric ? 'num' : undefined} key={column.title}>
                    {column.cell(row)}
                  </td>
                ))}
              </tr>
            );
          })}
          {bottom > 0 && (
            <tr aria-hidden="true" style={{ height: `${bottom}px` }}>
              <td colSpan={span} />
            </tr>
          )}
        </tbody>
      </table>
      {props.rows.length === 0 && <p class="empty">None.</p>}
    </div>
  );
}

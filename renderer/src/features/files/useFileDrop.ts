// Files dragged onto a conversation are offered in it. Only drags that carry files count
// (text or links dragged around the page are left alone); the page never navigates to a
// dropped file.
import { useRef, useState, type DragEvent } from 'react';
import type { AppStore } from '../../app/store.ts';
import { sendFiles } from './send-files.ts';

const hasFiles = (e: DragEvent) => [...e.dataTransfer.types].includes('Files');

export function useFileDrop(store: AppStore, convId: string | null, enabled = true) {
  const [over, setOver] = useState(false);
  // dragenter/dragleave fire for every child crossed: count them.
  const depth = useRef(0);
  const active = enabled && convId !== null;
  const handlers = {
    onDragEnter: (e: DragEvent) => {
      if (!active || !hasFiles(e)) return;
      e.preventDefault();
      depth.current++;
      setOver(true);
    },
    onDragOver: (e: DragEvent) => {
      if (!active || !hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    },
    onDragLeave: (e: DragEvent) => {
      if (!active || !hasFiles(e)) return;
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setOver(false);
    },
    onDrop: (e: DragEvent) => {
      if (!active || !hasFiles(e)) return;
      e.preventDefault();
      depth.current = 0;
      setOver(false);
      const files = [...e.dataTransfer.files];
      if (files.length) void sendFiles(store, convId!, files, store.replying.get(convId!)?.id);
    },
  };
  return { over, handlers };
}

import './zod-jitless.ts';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App.tsx';
import { AppStore } from './app/store.ts';
import { en } from './i18n/en.ts';
import { zhCN } from './i18n/zh-CN.ts';
import { selectTransport } from './transport/select.ts';
import './styles/app.css';

const root = createRoot(document.getElementById('root')!);
const transport = selectTransport();
if (!transport) {
  // Web mode opened without the token: nothing can work, say how to fix it.
  const zh = navigator.language.toLowerCase().startsWith('zh');
  root.render(
    <main className="splash">
      <p role="alert">{zh ? zhCN['app.noToken'] : en['app.noToken']}</p>
    </main>,
  );
} else {
  const store = new AppStore(transport);
  void store.start().catch((err: Error) => store.notify(err.message));
  root.render(
    <StrictMode>
      <App store={store} />
    </StrictMode>,
  );
}

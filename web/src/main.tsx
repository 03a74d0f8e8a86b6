import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApolloProvider } from '@apollo/client/react';
import { createConnection } from './apollo/client';
import { ReplyStreams } from './streams';
import { StreamsContext } from './stream-context';
import { App } from './components/App';
import './styles.css';

const { client } = createConnection();
const streams = new ReplyStreams(client);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApolloProvider client={client}>
      <StreamsContext.Provider value={streams}>
        <App />
      </StreamsContext.Provider>
    </ApolloProvider>
  </StrictMode>,
);

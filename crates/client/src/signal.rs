//! The signaling WebSocket as a pair of typed send/receive calls.

use crate::{ClientError, Result};
use futures_util::{SinkExt, StreamExt};
use softphone_proto::signal::{ClientMsg, ServerMsg};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An open signaling connection. The first frame received is `welcome`.
pub struct SignalConn {
    ws: Ws,
}

impl std::fmt::Debug for SignalConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignalConn")
    }
}

impl SignalConn {
    pub(crate) async fn connect(url: url::Url, token: &str) -> Result<Self> {
        let mut req = url
            .as_str()
            .into_client_request()
            .map_err(|e| ClientError::Signal(e.to_string()))?;
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .map_err(|_| ClientError::Signal("token is not a valid header".into()))?,
        );
        let connector = tokio_tungstenite::Connector::Rustls(crate::tls::config());
        let (ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(req, None, false, Some(connector))
                .await
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(resp) => ClientError::Api {
                        status: resp.status().as_u16(),
                        code: if resp.status().as_u16() == 401 {
                            "auth.invalid_token".into()
                        } else {
                            "signal.refused".into()
                        },
                        message: "signaling upgrade refused".into(),
                    },
                    other => ClientError::Signal(other.to_string()),
                })?;
        Ok(Self { ws })
    }

    /// Sends one frame.
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<()> {
        let text = serde_json::to_string(msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| ClientError::Signal(e.to_string()))
    }

    /// Sends raw text (tests use it to send malformed frames).
    pub async fn send_raw(&mut self, text: &str) -> Result<()> {
        self.ws
            .send(Message::Text(text.to_string().into()))
            .await
            .map_err(|e| ClientError::Signal(e.to_string()))
    }

    /// Next frame from the server; `None` when the connection closed.
    pub async fn recv(&mut self) -> Result<Option<ServerMsg>> {
        while let Some(frame) = self.ws.next().await {
            match frame.map_err(|e| ClientError::Signal(e.to_string()))? {
                Message::Text(t) => {
                    return serde_json::from_str(&t)
                        .map(Some)
                        .map_err(|e| ClientError::Protocol(format!("bad frame: {e}")))
                }
                Message::Close(_) => return Ok(None),
                _ => continue,
            }
        }
        Ok(None)
    }

    /// Closes the connection.
    pub async fn close(mut self) -> Result<()> {
        self.ws
            .close(None)
            .await
            .map_err(|e| ClientError::Signal(e.to_string()))
    }
}
